"""Deep links of a chat session: WhatsApp pre-filled with the reference; Telegram and Viber carry the
session's link token, which only the SMS to the caller's phone held."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from gateway.deflection.chats import ChannelAccounts, deep_link
from gateway.deflection.reference import new_link_token
from gateway.store.models import Chat

ACCOUNTS = ChannelAccounts("+77001234567", "ExampleBankBot", "examplebank")


def _session() -> Chat:
    return Chat(reference="K7XAMN", link_token=new_link_token(), locale="ru-RU")


def test_telegram_link_starts_the_bot_with_the_link_token_not_the_reference() -> None:
    row = _session()
    link = deep_link(row, "telegram", ACCOUNTS, "Example Bank")
    assert link == f"https://t.me/ExampleBankBot?start={row.link_token}"


def test_viber_link_context_is_the_link_token_and_the_text_keeps_the_reference() -> None:
    row = _session()
    query = parse_qs(urlsplit(deep_link(row, "viber", ACCOUNTS, "Example Bank")).query)
    assert query["context"] == [row.link_token]
    assert query["text"][0].endswith("номер K7XAMN")


def test_whatsapp_link_is_prefilled_with_the_reference() -> None:
    row = _session()
    query = parse_qs(urlsplit(deep_link(row, "whatsapp", ACCOUNTS, "Example Bank")).query)
    assert query["text"][0].endswith("номер K7XAMN") and row.link_token not in query["text"][0]
