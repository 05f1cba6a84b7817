"""The messengers a chat can continue in: their ids, their written names, and how a list of them reads
in a language ("WhatsApp или Telegram", "WhatsApp, Telegram, or Viber").

A base module: the flow engine (the offer prompt), the deflection dialogue (the consent text) and the SMS
texts all name the channels the caller is really offered, the configured ones, in one way. Lists are
joined with Babel's CLDR patterns, so a locale added as data (kk-KZ...) reads right without code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.lists import format_list

# In the order buttons and lists show them: WhatsApp first, because most customers have it.
CHANNELS: Final = ("whatsapp", "telegram", "viber")
WRITTEN_NAMES: Final[Mapping[str, str]] = {"whatsapp": "WhatsApp", "telegram": "Telegram", "viber": "Viber"}


def written_names(channels: Iterable[str]) -> list[str]:
    """The names as a customer reads them in an SMS or on a page."""
    return [WRITTEN_NAMES.get(channel, channel) for channel in channels]


def either(names: Iterable[str], locale: str) -> str:
    """The names as one choice in the locale's language: "A", "A or B", "A, B, or C"."""
    items = [name for name in names if name]
    if not items:
        return ""
    return format_list(items, style="or", locale=_babel_locale(locale))


def _babel_locale(locale: str) -> str:
    try:
        return str(Locale.parse(locale.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        return "en"
