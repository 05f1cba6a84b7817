"""Stands in for the inbound domain (`InboundChats.receive`) in tests of a chat webhook's own
behaviour: signature checks, parsing, replies. End-to-end tests use the real one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.handoff.inbound import InboundChat, InboundChats, InboundResult


@dataclass
class FakeReceive:
    reply: str | None = "Спасибо! Оператор ответит здесь."
    fail: bool = False
    chats: list[InboundChat] = field(default_factory=list)

    def __call__(self, chat: InboundChat, _now: Any) -> InboundResult:
        if self.fail:
            raise RuntimeError("database is down")
        duplicate = any(seen.message_id == chat.message_id for seen in self.chats)
        self.chats.append(chat)
        return InboundResult(duplicate, None if duplicate else self.reply, None, "unmatched")


@pytest.fixture
def receive(monkeypatch: pytest.MonkeyPatch) -> FakeReceive:
    fake = FakeReceive()
    monkeypatch.setattr(InboundChats, "receive", lambda _self, chat, now: fake(chat, now))
    return fake
