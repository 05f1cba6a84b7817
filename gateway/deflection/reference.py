"""References: the short code that ties a chat to its call, and the tokens of short links.

A reference is 6 characters from an alphabet with no look-alikes (no 0/O/D/Q, 1/I/L/J, 2/Z, 5/S,
6/G, 8/B, U/V), always mixing letters and digits so it never reads as a word or a number. H and R
are left out too, so that the Cyrillic Н and Р, which look like H and P but sound like N and R,
each have a single meaning (N and P). A reference rides in the pre-filled chat message, so usually
nobody types it; when someone does (retyped, edited, dictated), `find_reference` still reads it:
case, spaces or dashes inside, and Cyrillic letters typed on a Russian keyboard (К, М, Н, Р, Х, ...)
are all tolerated.

But it reads one reference at most, and only where our texts put it: right after a label
(`REFERENCE_LABELS`: "... номер K7XAMN", "..., reference K7XAMN", whatever the customer wrote before
the label or appended after the reference), or alone as the whole message. With ~13.8 million
references and thousands live, looking up every reference-shaped word of a message would let one
message carry hundreds of guesses.

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

from gateway.locales import language

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

# The words our texts put right before a reference: the pre-filled chat text ("номер", "reference"), the
# SMS ("Номер", "Ref") and the acknowledgement ("Номер обращения", "Reference"). A test keeps them in
# step with the texts.
REFERENCE_LABELS: Final = ("номер обращения", "номер", "reference", "ref")
# Only the start of a message is read for a reference: the pre-filled text is under 100 characters, and
# this bounds the work one message can cause, whatever its size.
REFERENCE_SEARCH_LIMIT: Final = 2000

# A separator a person may put inside a reference (at most two in a row): spaces, dashes, a dot.
_SEPARATORS: Final = frozenset(" \t\n\r\u00a0-\u2010\u2011\u2012\u2013\u2014.\u00b7_")
_ALNUM: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# Between a label and its reference: one to three characters of punctuation or space ("номер: ",
# "ref #", "reference (").
_LABEL_GAP: Final = 3


class ReferenceExhausted(RuntimeError):
    """Every attempt collided with a live reference: the live set is far too full, or `exists` is
    wrong (always True)."""


def new_reference(exists: Callable[[str], bool], *, attempts: int = 25) -> str:
    """A fresh reference for which ``exists(reference)`` is False.

    Uniqueness among live chats belongs to the caller (a database lookup, and a unique
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


def find_reference(text: str) -> str | None:
    """The one reference ``text`` carries where our texts put it, in canonical form, or None.

    ``"Здравствуйте! ... номер k7x-amn, спасибо"`` gives ``"K7XAMN"``, and so does ``"К7Х АМН"`` sent
    alone. The first label followed by a reference wins; any other reference-shaped word is ignored.
    Linear in the text, of which only the first `REFERENCE_SEARCH_LIMIT` characters are read.
    """
    canonical = _canonical(text[:REFERENCE_SEARCH_LIMIT])
    alone = _reference_alone(canonical)
    if alone is not None:
        return alone
    for label in _LABEL.finditer(canonical):
        start = label.end()
        gap = start
        while gap < len(canonical) and gap - start < _LABEL_GAP and not canonical[gap].isalnum():
            gap += 1
        if gap == start:
            continue  # glued to the label ("номерK7XAMN"): not how our texts write it
        reference, _ = _read_reference(canonical, gap)
        if reference is not None:
            return reference
    return None


def spoken_reference(reference: str, locale: str) -> str:
    """The reference spelled out for text-to-speech, one character at a time.

    Russian voices read bare Latin letters unpredictably ("K" as "ка" or "кей"), so ``ru`` gets
    explicit letter names; other locales get the characters separated by commas, which every
    engine reads one by one.
    """
    names = _RU_NAMES if language(locale) == "ru" else _EN_NAMES
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
    # NFKC folds full-width and other compatibility forms (a phone keyboard's "Ｋ７") to ASCII; "№"
    # would become "No", which reads like the start of a reference, so it is a plain mark first.
    folded = unicodedata.normalize("NFKC", text.replace("№", "#"))
    return folded.upper().translate(_CYRILLIC_TO_LATIN)


def _label_pattern() -> re.Pattern[str]:
    # Longest first, so "номер обращения" is one label rather than "номер" followed by a word.
    words = [_canonical(label).split() for label in REFERENCE_LABELS]
    alternatives = sorted((r"\s+".join(map(re.escape, w)) for w in words), key=len, reverse=True)
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")


_LABEL: Final = _label_pattern()


def _read_reference(text: str, start: int) -> tuple[str | None, int]:
    """The reference that starts at ``start`` (six characters, in groups split by one or two
    separators) and where reading stopped; None when the word there is not one, or runs on."""
    characters: list[str] = []
    position = start
    while position < len(text) and len(characters) <= REFERENCE_LENGTH:
        if text[position] in _ALNUM:
            characters.append(text[position])
            position += 1
            continue
        gap = position
        while gap < len(text) and gap - position < 2 and text[gap] in _SEPARATORS:
            gap += 1
        if not characters or len(characters) == REFERENCE_LENGTH or gap == position:
            break
        if gap == len(text) or text[gap] not in _ALNUM:
            break
        position = gap
    candidate = "".join(characters)
    glued = position < len(text) and text[position].isalnum()  # "K7XAMNспасибо", "K7XAMN7"
    if glued or not is_reference(candidate):
        return None, position
    return candidate, position


def _reference_alone(text: str) -> str | None:
    """The reference when it is the whole message (around it only spaces and punctuation)."""
    start = 0
    while start < len(text) and not text[start].isalnum():
        start += 1
    if start == len(text):
        return None
    reference, end = _read_reference(text, start)
    if reference is None or any(ch.isalnum() for ch in text[end:]):
        return None
    return reference


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
