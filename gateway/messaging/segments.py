"""How many SMS segments a text costs, and in which encoding it travels.

Character sets come from the `gsm0338` codec (the GSM 03.38 default alphabet and its extension
table), not from a hand-made list: a text that the codec can encode goes as GSM-7, anything else as
UCS-2. Counting follows what handsets and Twilio do on the air interface: a concatenated part loses
its room to the 6-byte user data header, an extension character (``{}[]~\\|^€`` and form feed) costs
two septets and is never split across parts, and a UCS-2 surrogate pair (most emoji) is never split
either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec on import)

Encoding = Literal["GSM-7", "UCS-2"]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

GSM7_SINGLE: Final = 160
GSM7_PER_PART: Final = 153
UCS2_SINGLE: Final = 70
UCS2_PER_PART: Final = 67

_GSM_CODEC: Final = "gsm03.38"
# The codec maps a bare ESC to 0x1B, but on the air 0x1B means "next septet is from the extension
# table": a literal ESC in a body would corrupt the next character, so it does not count as GSM.
_ESCAPE: Final = "\x1b"


@dataclass(frozen=True)
class SegmentInfo:
    """The cost of one SMS body.

    ``units`` are septets for GSM-7 and UTF-16 code units for UCS-2; ``per_segment`` is the room in
    each part (160/70 for a single part, 153/67 once the message is split); ``non_gsm_chars`` lists,
    once each and in order of appearance, the characters that forced UCS-2.
    """

    encoding: Encoding
    units: int
    segments: int
    per_segment: int
    non_gsm_chars: tuple[str, ...] = ()

    @property
    def is_gsm(self) -> bool:
        return self.encoding == GSM7

    def describe(self) -> str:
        """A one-line summary for an admin, e.g. ``2 UCS-2 segments (81 units; 67 per segment)``."""
        plural = "segment" if self.segments == 1 else "segments"
        text = (
            f"{self.segments} {self.encoding} {plural} ({self.units} units; {self.per_segment} per segment)"
        )
        if self.non_gsm_chars:
            shown = " ".join(_printable(ch) for ch in self.non_gsm_chars[:10])
            more = ", ..." if len(self.non_gsm_chars) > 10 else ""
            text += f"; UCS-2 forced by {shown}{more}"
        return text


def count_segments(text: str) -> SegmentInfo:
    """Decide the encoding of ``text`` and count its segments.

    An empty text costs 0 segments: there is nothing to send, and callers should treat it as an
    error rather than pay for an empty message.
    """
    non_gsm = tuple(dict.fromkeys(ch for ch in text if gsm_septets(ch) is None))
    if non_gsm:
        costs = [utf16_units(ch) for ch in text]
        return _pack(UCS2, costs, UCS2_SINGLE, UCS2_PER_PART, non_gsm)
    septets = [gsm_septets(ch) or 0 for ch in text]
    return _pack(GSM7, septets, GSM7_SINGLE, GSM7_PER_PART, ())


@lru_cache(maxsize=4096)
def gsm_septets(char: str) -> int | None:
    """Septets one character costs in GSM-7 (1, or 2 for the extension table), None if unmapped."""
    if char == _ESCAPE:
        return None
    try:
        return len(char.encode(_GSM_CODEC))
    except UnicodeEncodeError:
        return None


def utf16_units(char: str) -> int:
    """UTF-16 code units of one code point: 2 above the Basic Multilingual Plane (most emoji)."""
    return 2 if ord(char) > 0xFFFF else 1


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM 03.38 default or extension table."""
    return all(gsm_septets(ch) is not None for ch in text)


def ucs2_marks(text: str) -> list[tuple[str, bool]]:
    """Each character of ``text`` with whether it forces UCS-2 (True): what an editor highlights."""
    return [(char, gsm_septets(char) is None) for char in text]


def _pack(
    encoding: Encoding, costs: Iterable[int], single: int, per_part: int, non_gsm: tuple[str, ...]
) -> SegmentInfo:
    costs = list(costs)
    units = sum(costs)
    if units == 0:
        return SegmentInfo(encoding, 0, 0, single, non_gsm)
    if units <= single:
        return SegmentInfo(encoding, units, 1, single, non_gsm)
    # Greedy packing is what senders do: a character that does not fit whole starts a new part.
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return SegmentInfo(encoding, units, parts, per_part, non_gsm)


def _printable(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return char
    return f"U+{ord(char):04X}"
