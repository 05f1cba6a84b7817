"""References: the short code that ties a chat to its call, and the tokens of short links.

A reference is 6 characters from an alphabet with no look-alikes (no 0/O/D/Q, 1/I/L/J, 2/Z, 5/S,
6/G, 8/B, U/V), always mixing letters and digits so it never reads as a word or a number. H and R
are left out too, so that the Cyrillic Н and Р, which look like H and P but sound like N and R,
each have a single meaning (N and P). A reference rides in the pre-filled chat message, so usually
nobody types it; when someone does (retyped, edited, dictated), `normalize_reference` still finds
it: case, spaces or dashes inside, text around it, and Cyrillic letters typed on a Russian keyboard
(К, М, Н, Р, Х, ...) are all tolerated.

Typed characters outside the alphabet (O, 0, I, 1, S, 5, ...) are not mapped back: no reference ever
contains either member of a confusable pair, so there is nothing unambiguous to map them to, and the
text simply does not match.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from typing import Final

REFERENCE_ALPHABET: Final = "3479ACEFKMNPTWXY"
REFERENCE_LENGTH: Final = 6
_DIGITS: Final = frozenset(ch for ch in REFERENCE_ALPHABET if ch.isdigit())
_LETTERS: Final = frozenset(ch for ch in REFERENCE_ALPHABET if ch.isalpha())
_ALLOWED: Final = frozenset(REFERENCE_ALPHABET)

LINK_TOKEN_BYTES: Final = 16  # 128 bits: 22 URL-safe characters, short enough for an SMS

# Cyrillic capitals a customer types for our letters on a Russian keyboard, by shape (К, Р, Х) or
# by sound (Н, Ф, Э). Upper-casing first makes the lower-case letters land here too. Digits are
# never mapped (З for 3 would turn "заказа" into a reference): the digit row is the same anyway.
_CYRILLIC_TO_LATIN: Final = str.maketrans(
    {
        "А": "A",
        "С": "C",
        "Е": "E",
        "Э": "E",
        "Ф": "F",
        "К": "K",
        "М": "M",
        "Н": "N",
        "Р": "P",
        "Т": "T",
        "Х": "X",
        "У": "Y",
    }
)

# A separator a person may put inside a reference: spaces, dashes of every kind, a dot.
_SEPARATOR: Final = r"[\s\-‐‑‒–—.·_]"
_RUN: Final = re.compile(r"[A-Z0-9]+")
_GROUPS: Final = re.compile(rf"[A-Z0-9]+(?:{_SEPARATOR}{{1,2}}[A-Z0-9]+)+")


class ReferenceExhausted(RuntimeError):
    """Every attempt collided with a live reference: the live set is far too full, or `exists` is
    wrong (always True)."""


def new_reference(exists: Callable[[str], bool], *, attempts: int = 25) -> str:
    """A fresh reference for which ``exists(reference)`` is False.

    Uniqueness among live sessions belongs to the caller (a database lookup, and a unique
    constraint behind it); here we only retry. With about 13.8 million possible references a
    collision is rare, so ``attempts`` is only reached when something is wrong.
    """
    for _ in range(attempts):
        reference = _random_reference()
        if not exists(reference):
            return reference
    raise ReferenceExhausted(f"no free reference after {attempts} attempts")


def is_reference(text: str) -> bool:
    """True when ``text`` is exactly a canonical reference (upper case, no separators)."""
    return (
        len(text) == REFERENCE_LENGTH
        and set(text) <= _ALLOWED
        and not _DIGITS.isdisjoint(text)
        and not _LETTERS.isdisjoint(text)
    )


def normalize_reference(text: str) -> str | None:
    """The first reference found in free text, in canonical form, or None.

    ``"Здравствуйте! ... номер k7x-amn, спасибо"`` gives ``"K7XAMN"``. When several candidates are
    found, `find_references` lists them all so the caller can try each against live sessions.
    """
    found = find_references(text)
    return found[0] if found else None


def find_references(text: str) -> list[str]:
    """Every plausible reference in ``text``, best first, without duplicates.

    Whole words come first, in reading order. Then references broken up by spaces or dashes
    ("K7X AMN"), the right-most first: people write a label before the reference ("ref", "номер"),
    so a label that happens to fit the alphabet loses to the real reference after it.
    """
    canonical = _canonical(text)
    found: dict[str, None] = {}
    for match in _RUN.finditer(canonical):
        if is_reference(match.group()):
            found.setdefault(match.group(), None)
    split: list[str] = []
    for match in _GROUPS.finditer(canonical):
        split.extend(_joined_candidates(_RUN.findall(match.group())))
    for candidate in reversed(split):
        found.setdefault(candidate, None)
    return list(found)


def spoken_reference(reference: str, locale: str) -> str:
    """The reference spelled out for text-to-speech, one character at a time.

    Russian voices read bare Latin letters unpredictably ("K" as "ка" or "кей"), so ``ru`` gets
    explicit letter names; other locales get the characters separated by commas, which every
    engine reads one by one.
    """
    names = _RU_NAMES if _language(locale) == "ru" else _EN_NAMES
    return ", ".join(names.get(ch, ch) for ch in reference.upper())


def new_link_token() -> str:
    """An unguessable, URL-safe token for short links (``/l/<token>``): 128 random bits."""
    return secrets.token_urlsafe(LINK_TOKEN_BYTES)


def _random_reference() -> str:
    # Rejection sampling keeps the draw uniform over the mixed (letters and digits) references.
    while True:
        candidate = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if is_reference(candidate):
            return candidate


def _canonical(text: str) -> str:
    # NFKC folds full-width and other compatibility forms (a phone keyboard's "Ｋ７") to ASCII.
    return unicodedata.normalize("NFKC", text).upper().translate(_CYRILLIC_TO_LATIN)


def _joined_candidates(groups: list[str]) -> list[str]:
    """Runs of consecutive groups whose concatenation is exactly one reference, left to right."""
    candidates: list[str] = []
    for start in range(len(groups)):
        joined = ""
        for group in groups[start:]:
            joined += group
            if len(joined) >= REFERENCE_LENGTH:
                break
        if len(joined) == REFERENCE_LENGTH and joined != groups[start] and is_reference(joined):
            candidates.append(joined)
    return candidates


def _language(locale: str) -> str:
    return locale.replace("_", "-").split("-", 1)[0].lower()


_EN_NAMES: Final[dict[str, str]] = {}
_RU_NAMES: Final = {
    "3": "три",
    "4": "четыре",
    "7": "семь",
    "9": "девять",
    "A": "эй",
    "C": "си",
    "E": "и",
    "F": "эф",
    "K": "кей",
    "M": "эм",
    "N": "эн",
    "P": "пи",
    "T": "ти",
    "W": "дабл-ю",
    "X": "икс",
    "Y": "уай",
}
