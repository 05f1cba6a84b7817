"""References tie a chat to its call: short, unambiguous, found again in whatever the customer sends."""

from __future__ import annotations

import re
import secrets

import pytest

from gateway.deflection.reference import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    ReferenceExhausted,
    find_references,
    is_reference,
    new_link_token,
    new_reference,
    normalize_reference,
    spoken_reference,
)

CONFUSABLE = "0O1IL5S2Z8B6GUVDQJ"


def test_alphabet_has_no_confusable_characters() -> None:
    assert set(REFERENCE_ALPHABET).isdisjoint(CONFUSABLE)
    assert len(set(REFERENCE_ALPHABET)) == len(REFERENCE_ALPHABET)
    assert REFERENCE_ALPHABET == REFERENCE_ALPHABET.upper()


def test_new_references_are_short_mixed_and_from_the_alphabet() -> None:
    drawn = {new_reference(lambda _: False) for _ in range(500)}
    assert len(drawn) > 490
    for reference in drawn:
        assert len(reference) == REFERENCE_LENGTH
        assert set(reference) <= set(REFERENCE_ALPHABET)
        assert re.search(r"\d", reference) and re.search(r"[A-Z]", reference)
        assert is_reference(reference)


def test_new_reference_retries_until_the_caller_says_it_is_free() -> None:
    asked: list[str] = []

    def exists(reference: str) -> bool:
        asked.append(reference)
        return len(asked) < 4

    reference = new_reference(exists)
    assert len(asked) == 4
    assert reference == asked[-1]


def test_new_reference_gives_up_when_everything_collides() -> None:
    with pytest.raises(ReferenceExhausted):
        new_reference(lambda _: True, attempts=5)


def test_new_reference_draws_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter("K7XAMN")
    monkeypatch.setattr(secrets, "choice", lambda _seq: next(draws))
    assert new_reference(lambda _: False) == "K7XAMN"


@pytest.mark.parametrize(
    "text",
    [
        "K7XAMN",
        "k7xamn",
        "  k7x amn ",
        "K7X-AMN",
        "k7x–amn",
        "K 7 X A M N",
        "K7X.AMN",
        "Здравствуйте! Продолжаю обращение по звонку в Example Bank, номер K7XAMN",
        "Здравствуйте! Продолжаю обращение по звонку, номер K7XAMN. Карта не работает!!",
        "Hello! I'm continuing my call, reference K7XAMN - it's about my card",
        "my ref is (K7XAMN), thanks",
        "ref: K7X AMN",
        "номер к7х амн",  # retyped on a Russian keyboard: К, Х, А, М, Н
        "К7ХАМН",
        "Ｋ７ＸＡＭＮ",  # full-width, as some keyboards produce
        "#K7XAMN\nсрочно",
    ],
)
def test_reference_is_found_in_edited_texts(text: str) -> None:
    assert normalize_reference(text) == "K7XAMN"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, I need help with my card",
        "Здравствуйте, номер заказа 123456",
        "+7 700 123 45 67",
        "K7XAMNP",  # seven characters: not a reference
        "K7XAM",  # five
        "K0XAMN",  # 0 is never issued
        "KEMPTA",  # letters only: never issued
        "347934",  # digits only: never issued
        "K7XAMNспасибо",  # glued to a word
    ],
)
def test_no_reference_in_texts_without_one(text: str) -> None:
    assert normalize_reference(text) is None


def test_reference_glued_without_spaces_is_preferred_over_a_split_label() -> None:
    # "new K7X" also spells six valid characters; the whole word wins.
    assert find_references("new K7X AMN and K7XAMN") == ["K7XAMN", "NEWK7X"]


def test_split_reference_after_a_label_wins_over_the_label() -> None:
    assert normalize_reference("new K7X AMN") == "K7XAMN"
    assert find_references("new K7X AMN") == ["K7XAMN", "NEWK7X"]


def test_several_references_are_listed_in_reading_order() -> None:
    assert find_references("K7XAMN or maybe 9WEXY4, K7XAMN") == ["K7XAMN", "9WEXY4"]


def test_is_reference_is_strict() -> None:
    assert is_reference("K7XAMN")
    assert not is_reference("k7xamn")
    assert not is_reference("K7X AMN")


@pytest.mark.parametrize(
    ("locale", "spoken"),
    [
        ("en-US", "K, 7, X, A, M, N"),
        ("ru-RU", "кей, семь, икс, эй, эм, эн"),
        ("ru", "кей, семь, икс, эй, эм, эн"),
    ],
)
def test_spoken_reference_reads_one_character_at_a_time(locale: str, spoken: str) -> None:
    assert spoken_reference("K7XAMN", locale) == spoken


def test_every_character_has_a_russian_name() -> None:
    spoken = spoken_reference(REFERENCE_ALPHABET, "ru-RU")
    assert not re.search(r"[A-Z0-9]", spoken)
    assert len(spoken.split(", ")) == len(REFERENCE_ALPHABET)


def test_link_token_is_url_safe_and_unguessable() -> None:
    tokens = {new_link_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", token)
        assert len(token) * 6 >= 128
