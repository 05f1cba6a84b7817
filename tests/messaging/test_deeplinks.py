"""Deep links: the caller taps the SMS link and the messenger opens with the reference typed."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from gateway.deflection.reference import find_reference
from gateway.messaging.deeplinks import (
    DeepLinkError,
    prefilled_text,
    telegram_link,
    viber_link,
    whatsapp_link,
)

RU_TEXT = "Здравствуйте! Продолжаю обращение по звонку в Банк «Пример», номер K7XAMN"


def test_whatsapp_link_uses_digits_only_and_round_trips_cyrillic() -> None:
    link = whatsapp_link("+77001234567", RU_TEXT)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", "/77001234567")
    assert parts.query.startswith("text=%D0%97%D0%B4")  # "Зд", UTF-8 percent-encoded
    assert parse_qs(parts.query) == {"text": [RU_TEXT]}
    assert link.isascii()


def test_whatsapp_text_encodes_spaces_and_url_syntax_characters() -> None:
    link = whatsapp_link("+15005550006", "a b&c=d#e?f/g+h")
    query = urlsplit(link).query
    assert query == "text=a%20b%26c%3Dd%23e%3Ff%2Fg%2Bh"
    assert unquote(query.removeprefix("text=")) == "a b&c=d#e?f/g+h"


def test_whatsapp_link_without_text_has_no_query() -> None:
    assert whatsapp_link("+77001234567") == "https://wa.me/77001234567"
    assert whatsapp_link("+77001234567", "") == "https://wa.me/77001234567"


@pytest.mark.parametrize(
    "number", ["77001234567", "+7 700 123 45 67", "whatsapp:+77001234567", "+07001234567", "+1", ""]
)
def test_whatsapp_link_refuses_numbers_that_are_not_e164(number: str) -> None:
    with pytest.raises(DeepLinkError, match="E.164"):
        whatsapp_link(number, "hi")


def test_telegram_link_carries_the_reference_as_start_payload() -> None:
    assert telegram_link("@ExampleBankBot", "K7XAMN") == "https://t.me/ExampleBankBot?start=K7XAMN"
    assert telegram_link("example_bot", "a" * 64).endswith("?start=" + "a" * 64)


@pytest.mark.parametrize("payload", ["", "a" * 65, "K7X AMN", "ref=K7XAMN", "номер", "a+b"])
def test_telegram_payload_is_validated(payload: str) -> None:
    with pytest.raises(DeepLinkError, match="payload"):
        telegram_link("example_bot", payload)


@pytest.mark.parametrize("username", ["example", "bot", "1examplebot", "ex-ample_bot", "a" * 30 + "bot"])
def test_telegram_bot_username_is_validated(username: str) -> None:
    with pytest.raises(DeepLinkError, match="username"):
        telegram_link(username, "K7XAMN")


def test_viber_link_encodes_every_value() -> None:
    link = viber_link("examplebank", "K7XAMN", RU_TEXT)
    assert link.startswith("viber://pa?chatURI=examplebank&context=K7XAMN&text=%D0%97")
    query = parse_qs(urlsplit(link).query)
    assert query == {"chatURI": ["examplebank"], "context": ["K7XAMN"], "text": [RU_TEXT]}


def test_viber_link_without_text_and_with_awkward_context() -> None:
    link = viber_link("examplebank", "ref K7XAMN&x=1")
    assert link == "viber://pa?chatURI=examplebank&context=ref%20K7XAMN%26x%3D1"


@pytest.mark.parametrize(
    ("chat_uri", "context"), [("", "K7XAMN"), ("bad uri", "K7XAMN"), ("examplebank", "")]
)
def test_viber_link_refuses_empty_or_broken_values(chat_uri: str, context: str) -> None:
    with pytest.raises(DeepLinkError):
        viber_link(chat_uri, context)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ru-RU", "Здравствуйте! Продолжаю обращение по звонку в Example Bank, номер K7XAMN"),
        ("ru", "Здравствуйте! Продолжаю обращение по звонку в Example Bank, номер K7XAMN"),
        ("en-US", "Hello! I'm continuing my call to Example Bank, reference K7XAMN"),
        ("de-DE", "Hello! I'm continuing my call to Example Bank, reference K7XAMN"),
    ],
)
def test_prefilled_text_per_language(locale: str, expected: str) -> None:
    assert prefilled_text(locale, "K7XAMN", "Example Bank") == expected


def test_prefilled_text_without_brand_reads_naturally() -> None:
    assert prefilled_text("ru-RU", "K7XAMN", "") == (
        "Здравствуйте! Продолжаю обращение по звонку, номер K7XAMN"
    )


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_reference_is_found_again_in_the_prefilled_text_after_the_round_trip(locale: str) -> None:
    text = prefilled_text(locale, "K7XAMN", "Example Bank")
    received = parse_qs(urlsplit(whatsapp_link("+77001234567", text)).query)["text"][0]
    assert received.endswith(" K7XAMN")
    assert find_reference(received) == "K7XAMN"


def test_prefilled_text_needs_a_reference() -> None:
    with pytest.raises(DeepLinkError):
        prefilled_text("ru-RU", " ", "Example Bank")
