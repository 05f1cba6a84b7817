"""Which of a locale's voice texts the caller hears, and the spoken values that fill them: the messengers
as one choice, the last digits of a number, a keyed-in number digit by digit.

The texts themselves are data (`voice_texts/<locale>.yaml`, `gateway.flows.voice_texts`). The consent
text is legal text: it is versioned, and the consent record stores its version, its exact words and
their hash. Change a word, change the version.
"""

from __future__ import annotations

import hashlib

from gateway.channels import WRITTEN_NAMES, either
from gateway.flows.voice_texts import Speech, VoiceTexts


def said_channels(texts: VoiceTexts, channels: list[str], locale: str) -> str:
    """The channels by the names the texts' voice says, as one choice in `locale`'s words ("WhatsApp
    или Телеграм")."""
    names = texts.channel_names
    return either([names.get(c) or WRITTEN_NAMES.get(c, c) for c in channels], locale)


# Refusals that say nothing about the number: the caller can only wait (or call another day).
BUSY_REASONS = frozenset(
    {
        "messaging_paused",
        "range_paused",
        "prefix_rate_limit",
        "ndc_rate_limit",
        "country_rate_limit",
        "global_rate_limit",
        "ndc_daily_limit",
        "country_daily_limit",
        "daily_budget_spent",
        "chat_closed",
        "chat_backlog",
        "line_type_pending",
        "line_type_unknown",
    }
)


def refusal_text(texts: VoiceTexts, reason: str) -> Speech:
    """What a caller hears when no SMS will be sent, by the class of the refusal reason."""
    if reason in ("texted_recently", "keyed_number_limit"):
        return texts.refused_recently  # the link is in the message already sent
    if reason == "caller_daily_limit":
        return texts.refused_daily_limit
    if reason == "opted_out":
        return texts.refused_opted_out
    if reason == "not_mobile" or reason.startswith("number_type_"):
        return texts.refused_not_mobile
    if reason in BUSY_REASONS:
        return texts.refused_busy
    if reason in ("number_invalid", "re_entry"):  # no number was settled on
        return texts.no_number
    return texts.refused


def own_number_problem(texts: VoiceTexts, reason: str) -> Speech:
    """Why the caller's own number will not do (a reason after which they may key in a mobile one)."""
    if reason == "no_number":
        return texts.own_withheld
    if reason == "region_not_allowed":
        return texts.own_abroad
    return texts.own_not_mobile


def spoken_ending(number: str, locale: str) -> str:
    """The last four digits as two pairs ("45 67"), the way numbers are read in both languages."""
    last = number[-4:]
    return f"{last[:2]} {last[2:]}"


def spoken_digits(digits: str) -> str:
    """Digit by digit, with pauses, so the caller can check a number they keyed in."""
    return ", ".join(digits)


def consent_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
