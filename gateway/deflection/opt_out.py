"""STOP in any channel: recorded in the consent ledger and honoured by every later send."""

from __future__ import annotations

import re
from datetime import datetime

from gateway.deflection.consent import is_opted_out, record_opt_out
from gateway.locales import text_language
from gateway.store.db import Database

# The keywords carriers and Twilio treat as opt-out, and their Russian counterparts.
STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt-out",
        "стоп",
        "отписаться",
        "отписка",
        "отказ",
        "хватит",
    }
)

ACKNOWLEDGEMENTS = {
    "ru": "Вы отписались: мы больше не будем присылать вам сообщения. Чтобы возобновить, позвоните нам.",
    "en": "You have been unsubscribed and will get no more messages from us. Call us to start again.",
}


def is_stop(body: str) -> bool:
    """A message that is only an opt-out keyword (with punctuation), not one merely containing it."""
    words = re.sub(r"[^\w\s-]", " ", body.strip().lower()).split()
    return len(words) == 1 and words[0] in STOP_WORDS


def acknowledgement(body: str) -> str:
    return ACKNOWLEDGEMENTS[text_language(body)]


def opt_out(
    database: Database, number: str, channel: str, at: datetime, text: str, method: str = "inbound-keyword"
) -> bool:
    """Record the opt-out; returns False when the number had already opted out (nothing written).
    `method`: how it reached us, "inbound-keyword" (STOP in a chat) or "admin" (the caller asked the
    contact centre, and an admin wrote it down from the console; `text` is the admin's note)."""
    with database.session() as session:
        if is_opted_out(session, number):
            return False
        record_opt_out(session, number, channel, method, at, text=text)
        return True
