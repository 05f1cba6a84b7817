"""References tie a chat to its call: short, unambiguous, found again where our texts put them (after a
label, or alone), and only there: one reference per message at most, read in linear time."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from gateway.deflection.reference import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    REFERENCE_SEARCH_LIMIT,
    ReferenceExhausted,
    find_reference,
    is_reference,
    new_link_token,
    new_reference,
    spoken_reference,
)
from gateway.messaging.deeplinks import PREFILLED_TEXTS, prefilled_text
from gateway.messaging.templates import SAMPLE_VALUES, TemplateSet

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "sms_templates"

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
        "(K7XAMN)!",
        "Здравствуйте! Продолжаю обращение по звонку в Example Bank, номер K7XAMN",
        "Здравствуйте! Продолжаю обращение по звонку, номер K7XAMN. Карта не работает!!",
        "Добрый день. Номер обращения К7Х-АМН, карта заблокирована",
        "Hello! I'm continuing my call, reference K7XAMN - it's about my card",
        "ref: K7X AMN",
        "Ref #K7XAMN please call me",
        "номер № K7XAMN",
        "номер к7х амн",  # retyped on a Russian keyboard: К, Х, А, М, Н
        "К7ХАМН",
        "Ｋ７ＸＡＭＮ",  # full-width, as some keyboards produce
        "Hello! I'm continuing my call to Reference Bank, reference K7XAMN",  # a label in the brand
    ],
)
def test_reference_is_found_where_our_texts_put_it(text: str) -> None:
    assert find_reference(text) == "K7XAMN"


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
        "номер K7XAMNспасибо",
        "номерK7XAMN",  # glued to the label
        # Not where our texts put it: neither right after a label nor the whole message.
        "my ref is (K7XAMN), thanks",
        "#K7XAMN\nсрочно",
        "new K7X AMN",
        "Код K7XAMN",
        "K7XAMN 9WEXY4",
    ],
)
def test_no_reference_in_texts_without_one_where_our_texts_put_it(text: str) -> None:
    assert find_reference(text) is None


def test_only_the_first_label_followed_by_a_reference_counts() -> None:
    assert find_reference("номер телефона не помню, номер 9WEXY4, а может номер K7XAMN") == "9WEXY4"


def test_a_message_full_of_references_gives_one_at_most() -> None:
    drawn = [new_reference(lambda _: False) for _ in range(585)]
    assert find_reference(" ".join(drawn)) is None  # no label: none of them
    assert find_reference(" ".join(f"номер {r}" for r in drawn)) == drawn[0]


def test_pathological_megabyte_is_read_only_at_its_start() -> None:
    # A megabyte of one-letter words (the old extraction took minutes on it: quadratic in the words),
    # then a label and a reference far beyond what is read.
    assert find_reference("A " * 500_000 + "номер K7XAMN") is None
    assert find_reference("K7X-" * 250_000 + " номер K7XAMN") is None


def test_question_appended_after_the_prefilled_text_may_be_long() -> None:
    text = prefilled_text("ru-RU", "K7XAMN", "Example Bank") + "\n" + "Карта не работает. " * 50_000
    assert find_reference(text) == "K7XAMN"
    assert find_reference("x" * (REFERENCE_SEARCH_LIMIT - 20) + " номер K7XAMN") == "K7XAMN"


@pytest.mark.parametrize("language", sorted(PREFILLED_TEXTS))
def test_the_prefilled_text_puts_the_reference_after_a_label(language: str) -> None:
    for brand in ("Example Bank", "", "Номер 1 Reference"):
        assert find_reference(prefilled_text(language, "K7XAMN", brand)) == "K7XAMN"


def test_every_sms_and_acknowledgement_puts_the_reference_after_a_label() -> None:
    templates = TemplateSet.load(TEMPLATES_DIR)
    for template in templates:
        body = templates.render(template.locale, template.name, **SAMPLE_VALUES).body
        assert find_reference(body) == SAMPLE_VALUES["reference"], (template.locale, template.name)


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
