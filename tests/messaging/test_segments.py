"""Segment counting against the real GSM 03.38 tables: what a caller's SMS costs."""

from __future__ import annotations

import pytest

from gateway.messaging.segments import SegmentInfo, count_segments, gsm_septets, is_gsm7

EXTENSION_CHARS = "{}[]~\\|^€\f"


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [
        (1, 1, 160),
        (160, 1, 160),
        (161, 2, 153),
        (306, 2, 153),
        (307, 3, 153),
        (459, 3, 153),
        (460, 4, 153),
    ],
)
def test_gsm7_boundaries(length: int, segments: int, per_segment: int) -> None:
    info = count_segments("a" * length)
    assert info == SegmentInfo("GSM-7", length, segments, per_segment, ())


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [
        (1, 1, 70),
        (70, 1, 70),
        (71, 2, 67),
        (134, 2, 67),
        (135, 3, 67),
        (201, 3, 67),
        (202, 4, 67),
    ],
)
def test_cyrillic_is_ucs2_with_exact_boundaries(length: int, segments: int, per_segment: int) -> None:
    text = ("Здравствуйте" * 20)[:length]
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments, info.per_segment) == (
        "UCS-2",
        length,
        segments,
        per_segment,
    )


def test_ucs2_lists_the_characters_that_forced_it_once_each_in_order() -> None:
    info = count_segments("Hello «world» «again»")
    assert info.encoding == "UCS-2"
    assert info.non_gsm_chars == ("«", "»")
    assert "«" in info.describe()


def test_gsm_text_has_no_offending_characters() -> None:
    text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r"
    info = count_segments(text)
    assert info.encoding == "GSM-7"
    assert info.units == len(text)
    assert info.non_gsm_chars == ()


@pytest.mark.parametrize("char", list(EXTENSION_CHARS))
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert gsm_septets(char) == 2
    assert count_segments("a" + char).units == 3


def test_extension_characters_fill_a_single_segment_twice_as_fast() -> None:
    assert count_segments("€" * 80).segments == 1
    assert count_segments("€" * 81) == SegmentInfo("GSM-7", 162, 2, 153, ())


def test_extension_character_is_never_split_across_parts() -> None:
    # 152 septets, then a 2-septet "€" that does not fit in part one's last septet.
    text = "a" * 152 + "€" + "a" * 152
    info = count_segments(text)
    assert info.units == 306
    assert info.segments == 3


@pytest.mark.parametrize("char", ["ç", "«", "’", "—", "…", "\x1b", "Ё"])
def test_characters_outside_gsm_force_ucs2(char: str) -> None:
    assert not is_gsm7("abc" + char)
    assert count_segments("abc" + char).non_gsm_chars == (char,)


def test_emoji_count_two_utf16_units() -> None:
    assert count_segments("🙂") == SegmentInfo("UCS-2", 2, 1, 70, ("🙂",))
    assert count_segments("🙂" * 35).segments == 1
    assert count_segments("🙂" * 36) == SegmentInfo("UCS-2", 72, 2, 67, ("🙂",))


def test_emoji_surrogate_pair_is_never_split_across_parts() -> None:
    # 66 units then an emoji: 68 does not fit in 67, so the emoji starts part two.
    text = "ж" * 66 + "🙂" + "ж" * 66
    info = count_segments(text)
    assert info.units == 134
    assert info.segments == 3
    assert count_segments("ж" * 65 + "🙂" + "ж" * 67).segments == 2


def test_empty_text_costs_nothing() -> None:
    assert count_segments("") == SegmentInfo("GSM-7", 0, 0, 160, ())


def test_segment_info_is_frozen() -> None:
    info = count_segments("hi")
    with pytest.raises(AttributeError):
        info.units = 3  # type: ignore[misc]
