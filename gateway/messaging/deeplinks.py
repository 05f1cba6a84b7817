"""Deep links into messengers, and the pre-filled message that carries the reference.

Telegram's start payload and Viber's context carry the session's link token (see
`gateway.deflection.chats.deep_link`); the pre-filled text carries the reference, for WhatsApp and
for the human reading the chat.

Pure functions: they build URLs and validate their inputs, nothing else. Every value is
percent-encoded with ``quote(..., safe="")`` (spaces as ``%20``, not ``+``: WhatsApp shows a ``+``
literally), so Cyrillic, ``&``, ``#`` and ``?`` in a pre-filled text cannot break the link.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

from gateway.locales import language

WHATSAPP_BASE: Final = "https://wa.me/"
TELEGRAM_BASE: Final = "https://t.me/"
VIBER_BASE: Final = "viber://pa"

TELEGRAM_PAYLOAD_MAX: Final = 64

_E164: Final = re.compile(r"\+[1-9]\d{6,14}")
_TELEGRAM_PAYLOAD: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Telegram usernames: 5-32 letters, digits and underscores, starting with a letter; a bot's ends
# in "bot".
_TELEGRAM_BOT: Final = re.compile(r"[a-z][a-z0-9_]{1,28}bot", re.IGNORECASE)
_VIBER_CHAT_URI: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

# The reference always comes last, right after a label and a space: `find_reference` reads a reference
# only after one of `REFERENCE_LABELS` (or alone), and a human reading the chat finds it at once. Keys
# are language subtags; unknown languages get English.
# The second text is the brand fragment, left out when there is no brand.
PREFILLED_TEXTS: Final[dict[str, tuple[str, str]]] = {
    "ru": ("Здравствуйте! Продолжаю обращение по звонку{brand}, номер {reference}", " в {brand}"),
    "en": ("Hello! I'm continuing my call{brand}, reference {reference}", " to {brand}"),
}
DEFAULT_LANGUAGE: Final = "en"


class DeepLinkError(ValueError):
    """An input that would produce a broken or refused link."""


def whatsapp_link(business_number_e164: str, text: str | None = None) -> str:
    """``https://wa.me/<digits>?text=<urlencoded>`` opening a chat with the business number.

    wa.me wants the number as digits only (no ``+``, no ``whatsapp:`` prefix); an empty ``text``
    leaves the query out.
    """
    number = business_number_e164.strip()
    if not _E164.fullmatch(number):
        raise DeepLinkError(
            f"WhatsApp business number must be E.164 like +77001234567, got {business_number_e164!r}"
        )
    link = WHATSAPP_BASE + number[1:]
    if text:
        link += "?text=" + quote(text, safe="")
    return link


def telegram_link(bot_username: str, payload: str) -> str:
    """``https://t.me/<bot>?start=<payload>``: the bot receives ``/start <payload>`` (the session's
    link token: 22 characters).

    Telegram accepts at most 64 characters of ``A-Za-z0-9_-`` as a start payload and silently
    drops anything else, so invalid payloads are refused here instead.
    """
    username = bot_username.strip().removeprefix("@")
    if not _TELEGRAM_BOT.fullmatch(username):
        raise DeepLinkError(
            f"Telegram bot username must be 5-32 letters, digits or _ ending in 'bot', got {bot_username!r}"
        )
    if not _TELEGRAM_PAYLOAD.fullmatch(payload):
        raise DeepLinkError(
            f"Telegram start payload must be 1-{TELEGRAM_PAYLOAD_MAX} characters of A-Za-z0-9_-, "
            f"got {payload!r}"
        )
    return f"{TELEGRAM_BASE}{username}?start={payload}"


def viber_link(chat_uri: str, context: str, text: str | None = None) -> str:
    """``viber://pa?chatURI=<uri>&context=<ctx>&text=<text>`` opening a Viber bot chat.

    ``context`` comes back to the bot in its ``conversation_started`` callback, so it carries the
    session's link token; ``text`` pre-fills the message box.
    """
    if not _VIBER_CHAT_URI.fullmatch(chat_uri):
        raise DeepLinkError(f"Viber chat URI must be letters, digits, '_', '.', '-', got {chat_uri!r}")
    if not context:
        raise DeepLinkError("Viber context must not be empty: it is how the chat finds its call")
    link = f"{VIBER_BASE}?chatURI={quote(chat_uri, safe='')}&context={quote(context, safe='')}"
    if text:
        link += "&text=" + quote(text, safe="")
    return link


def prefilled_text(locale: str, reference: str, brand: str) -> str:
    """The chat message the customer finds typed and only has to send, ending with the reference.

    ``locale`` is matched on its language (``ru-RU``, ``ru`` and ``ru_KZ`` all give Russian).
    """
    if not reference.strip():
        raise DeepLinkError("a pre-filled text without a reference cannot be matched to its call")
    text, brand_fragment = PREFILLED_TEXTS.get(language(locale), PREFILLED_TEXTS[DEFAULT_LANGUAGE])
    brand_text = brand_fragment.format(brand=brand.strip()) if brand.strip() else ""
    return text.format(brand=brand_text, reference=reference.strip())
