"""Languages: a locale's language ("ru-RU" -> "ru"), the language a page or card shows when its labels
exist only in some languages, and the language of a text from an unknown sender. One place for each,
so a locale added as data (kk-KZ, ...) is read the same way everywhere."""

from __future__ import annotations

import re
from collections.abc import Collection

PAGE_LANGUAGES = ("ru", "en")  # the languages pages and cards have labels in; English otherwise
_CYRILLIC = re.compile(r"[а-яё]")


def language(locale: str | None) -> str:
    """The language subtag of a locale: "ru-RU", "ru_KZ" and "ru" give "ru"; None gives ""."""
    return (locale or "").replace("_", "-").split("-", 1)[0].lower()


def label_language(locale: str | None, available: Collection[str] = PAGE_LANGUAGES) -> str:
    """The locale's language when there are labels in it, else English."""
    lang = language(locale)
    return lang if lang in available else "en"


def text_language(text: str) -> str:
    """ "ru" for a message written in Cyrillic, else "en": the language to answer an unknown sender in."""
    return "ru" if _CYRILLIC.search(text.lower()) else "en"
