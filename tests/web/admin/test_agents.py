"""Agents find a chat's context card in the console: by its reference or by the number's last four
digits (recent chats only, numbers masked), each look-up limited and audited, the link opening the
card."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.clock import ManualClock
from gateway.handoff.finder import AGENT_LOOKUPS, RECENT
from tests.support.console import signed_in
from tests.support.sessions import open_chat_session

CARD_LINK = 'id="card-link" class="card-link" value="'


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def card_link(page: str) -> str:
    start = page.index(CARD_LINK) + len(CARD_LINK)
    return page[start : page.index('"', start)]


def audit(app: Any, action: str) -> list[Any]:
    return [e for e in app.extensions["deflect"].content.store.audit(limit=200) if e.action == action]


@pytest.mark.parametrize("role", ["viewer", "editor", "publisher"])
def test_chat_look_up_is_refused_to_roles_without_agent_rights(app: Any, role: str) -> None:
    chat = open_chat_session(app)
    console = signed_in(app, role)
    assert console.get("/admin/agents/").status_code == 403
    console.get("/admin/")
    assert console.post("/admin/agents/find", {"query": chat.reference}).status_code == 403
    assert console.post("/admin/agents/card", {"session_id": str(chat.id)}).status_code == 403
    assert audit(app, "chat.looked_up") == []


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_agents_and_admins_find_a_card_by_reference(app: Any, role: str) -> None:
    chat = open_chat_session(app)
    console = signed_in(app, role, "anna@example.com")
    assert console.get("/admin/agents/").status_code == 200

    found = console.post("/admin/agents/find", {"query": chat.reference.lower()})

    assert found.status_code == 200
    page = text(found)
    link = card_link(page)
    assert link.startswith("https://voice.example.test/card/")
    card = console.client.get(link.removeprefix("https://voice.example.test"))
    assert card.status_code == 200 and chat.reference in text(card) and "bank-cards" in text(card)
    assert "+79161234567" not in page and "45 67" in page
    [looked_up] = audit(app, "chat.looked_up")
    assert (looked_up.actor, looked_up.subject) == ("anna@example.com (console)", f"chat:{chat.reference}")
    assert audit(app, "chat.card_issued")[0].subject == f"chat:{chat.reference}"


def test_an_agent_finds_recent_chats_by_the_last_four_digits(app: Any, clock: ManualClock) -> None:
    old = open_chat_session(app, number="+79031114567", call="2")
    clock.advance(RECENT.total_seconds() + 60)
    first = open_chat_session(app, number="+79161234567", call="3")
    second = open_chat_session(app, number="+79250004567", call="4")
    other = open_chat_session(app, number="+79250001111", call="5")
    console = signed_in(app, "agent")

    found = console.post("/admin/agents/find", {"query": "45 67"})

    page = text(found)
    assert found.status_code == 200 and 'id="found-chats"' in page
    assert first.reference in page and second.reference in page
    assert old.reference not in page and other.reference not in page  # too old; other digits
    assert "+79161234567" not in page and "+79250004567" not in page and "/card/" not in page
    picked = console.post("/admin/agents/card", {"session_id": str(second.id)})
    assert picked.status_code == 200
    assert card_link(text(picked)).startswith("https://voice.example.test/card/")
    assert console.post("/admin/agents/card", {"session_id": str(old.id)}).status_code == 404
    assert [e.subject for e in audit(app, "chat.looked_up")] == ["chats:*4567"]
    assert [e.subject for e in audit(app, "chat.card_issued")] == [f"chat:{second.reference}"]


def test_a_look_up_that_finds_nothing_or_is_not_one_says_so(app: Any) -> None:
    open_chat_session(app)
    console = signed_in(app, "agent")
    nothing = console.post("/admin/agents/find", {"query": "K7XAMN"})
    assert nothing.status_code == 200 and 'id="find-none"' in text(nothing)
    wrong = console.post("/admin/agents/find", {"query": "hello"})
    assert wrong.status_code == 400 and 'id="find-error"' in text(wrong)


def test_look_ups_are_limited_per_agent(app: Any) -> None:
    chat = open_chat_session(app)
    console = signed_in(app, "agent")
    for _ in range(AGENT_LOOKUPS):
        assert console.post("/admin/agents/find", {"query": "9999"}).status_code == 200
    limited = console.post("/admin/agents/find", {"query": chat.reference})
    assert limited.status_code == 429 and "Too many look-ups" in text(limited)
    assert "/card/" not in text(limited)
    assert audit(app, "chat.lookup_limited")[0].subject == f"chat:{chat.reference}"
    colleague = signed_in(app, "agent", "boris@example.com")
    assert colleague.post("/admin/agents/find", {"query": chat.reference}).status_code == 200


def test_a_look_up_without_the_csrf_token_gets_400_and_is_not_made(app: Any) -> None:
    chat = open_chat_session(app)
    console = signed_in(app, "agent")
    refused = console.post("/admin/agents/find", {"query": chat.reference}, csrf=False)
    assert refused.status_code == 400 and "/card/" not in text(refused)
    assert console.post("/admin/agents/card", {"session_id": str(chat.id)}, csrf=False).status_code == 400
    assert audit(app, "chat.looked_up") == [] and audit(app, "chat.card_issued") == []
