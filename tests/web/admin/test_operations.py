"""Operations in the console: the messaging pause with who, when and why; a caller's consent looked up
and exported after a real accepted offer; the ledger's check; opt-outs; dead letters replayed; the
outbox with its statuses. Lists never show a full number or a link token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.clock import ManualClock
from gateway.store.models import Chat, ConsentRecord, Handoff, OptOut, SmsOutbox
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import Call
from tests.support.console import signed_in
from tests.support.messages import post_inbound
from tests.support.receiver import Receiver
from tests.support.sessions import open_chat_session

CALLER = "+79161234567"
PAGES = (
    "/admin/operations/",
    "/admin/operations/consent",
    "/admin/operations/ledger",
    "/admin/operations/opt-outs",
    "/admin/operations/dead-letters",
    "/admin/operations/outbox",
)


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def audit(app: Any, action: str) -> list[Any]:
    return [e for e in app.extensions["deflect"].content.store.audit(limit=200) if e.action == action]


def accepted_offer(app: Any, clock: ManualClock) -> Call:
    """A real call: the offer accepted, consent given, the SMS sent (to the dev inbox)."""
    call = Call(app.test_client())
    call.press(reach_consent(call, clock), "1")
    run_jobs(app)
    return call


@pytest.mark.parametrize("role", ["viewer", "agent", "editor", "publisher"])
def test_operations_are_refused_to_every_role_but_admin(app: Any, role: str) -> None:
    console = signed_in(app, role)
    for path in PAGES:
        assert console.get(path).status_code == 403, path
    console.get("/admin/")
    assert console.post("/admin/operations/pause", {"reason": "test"}).status_code == 403
    assert console.post("/admin/operations/consent", {"number": CALLER}).status_code == 403
    assert console.post("/admin/operations/consent/export", {"number": CALLER}).status_code == 403
    assert console.post("/admin/operations/opt-outs", {"number": CALLER, "note": "x"}).status_code == 403
    assert console.post("/admin/operations/dead-letters/replay", {"handoff_id": "all"}).status_code == 403
    assert not app.extensions["deflect"].guards.switch.state().paused
    with app.extensions["deflect"].database.session() as session:
        assert session.get(OptOut, CALLER) is None


def test_every_operations_page_opens_for_an_admin(app: Any) -> None:
    console = signed_in(app, "admin")
    for path in PAGES:
        assert console.get(path).status_code == 200, path
    assert "Operations" in text(console.get("/admin/"))  # in the menu


def test_pause_and_resume_are_recorded_with_who_and_why_and_shown_in_the_audit_log(app: Any) -> None:
    console = signed_in(app, "admin", "ops@example.com")
    page = text(console.get("/admin/operations/"))
    assert 'id="pause-form"' in page and 'data-confirm="' in page

    paused = console.post("/admin/operations/pause", {"reason": "chat team overloaded"})

    assert paused.status_code == 302
    state = app.extensions["deflect"].guards.switch.state()
    assert state.paused and state.actor == "ops@example.com (console)"
    assert state.reason == "chat team overloaded"
    page = text(console.get("/admin/operations/"))
    assert "PAUSED by ops@example.com (console)" in page and "chat team overloaded" in page
    assert 'id="resume-form"' in page

    assert console.post("/admin/operations/resume", {"reason": "back to normal"}).status_code == 302
    assert not app.extensions["deflect"].guards.switch.state().paused
    log = text(console.get("/admin/audit/?subject=messaging"))
    assert "messaging.paused" in log and "messaging.resumed" in log
    assert "chat team overloaded" in log and "back to normal" in log
    assert log.count("ops@example.com (console)") >= 2


def test_a_pause_needs_a_reason(app: Any) -> None:
    console = signed_in(app, "admin")
    refused = console.post("/admin/operations/pause", {"reason": "  "})
    assert refused.status_code == 400
    assert "Say why offers are paused" in text(refused)
    assert not app.extensions["deflect"].guards.switch.state().paused


def test_operations_forms_without_the_csrf_token_get_400_and_change_nothing(
    app: Any, clock: ManualClock
) -> None:
    console = signed_in(app, "admin")
    assert console.post("/admin/operations/pause", {"reason": "x"}, csrf=False).status_code == 400
    assert not app.extensions["deflect"].guards.switch.state().paused
    refused = console.post("/admin/operations/opt-outs", {"number": CALLER, "note": "by phone"}, csrf=False)
    assert refused.status_code == 400
    assert console.post("/admin/operations/consent", {"number": CALLER}, csrf=False).status_code == 400
    assert (
        console.post("/admin/operations/dead-letters/replay", {"handoff_id": "all"}, csrf=False).status_code
        == 400
    )
    with app.extensions["deflect"].database.session() as session:
        assert session.get(OptOut, CALLER) is None
    assert audit(app, "consent.looked_up") == []


def test_a_callers_consent_is_looked_up_and_exported_after_a_real_accepted_offer(
    app: Any, clock: ManualClock
) -> None:
    call = accepted_offer(app, clock)
    console = signed_in(app, "admin", "ops@example.com")

    found = console.post("/admin/operations/consent", {"number": "8 916 123-45-67", "region": "RU"})

    assert found.status_code == 200
    page = text(found)
    assert CALLER in page  # the full number, on the page of the look-up someone asked for
    assert "ru-RU/consent-v1" in page and call.call_sid in page and "consent given" in page
    assert "Not opted out." in page

    exported = console.post("/admin/operations/consent/export", {"number": CALLER})

    assert exported.status_code == 200
    assert exported.mimetype == "application/x-ndjson"
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    [record] = [json.loads(line) for line in text(exported).splitlines()]
    assert (record["kind"], record["number"], record["call_sid"]) == ("granted", CALLER, call.call_sid)
    assert record["prompt_version"] == "ru-RU/consent-v1" and record["key_pressed"] == "1"
    [looked_up] = audit(app, "consent.looked_up")
    [export] = audit(app, "consent.exported")
    assert looked_up.actor == export.actor == "ops@example.com (console)"
    assert export.subject == "number:+7916*****67" and export.detail == {"records": 1}


def test_a_number_that_is_not_one_is_refused_next_to_the_form(app: Any) -> None:
    console = signed_in(app, "admin")
    refused = console.post("/admin/operations/consent", {"number": "12ab", "region": "RU"})
    assert refused.status_code == 400
    assert 'id="number-error"' in text(refused) and "not a valid phone number" in text(refused)
    assert audit(app, "consent.looked_up") == []


def test_the_ledger_check_shows_intact_then_a_changed_record(app: Any, clock: ManualClock) -> None:
    accepted_offer(app, clock)
    console = signed_in(app, "admin")
    assert "The ledger is intact: 1 records checked." in text(console.get("/admin/operations/ledger"))
    with app.extensions["deflect"].database.session() as session:
        session.execute(update(ConsentRecord).values(key_pressed="2"))
    page = text(console.get("/admin/operations/ledger"))
    assert "has been tampered with" in page and "content changed after it was written" in page


def test_an_admin_records_an_opt_out_the_caller_asked_for_by_phone(app: Any, clock: ManualClock) -> None:
    accepted_offer(app, clock)
    console = signed_in(app, "admin", "ops@example.com")
    looked_up = text(console.post("/admin/operations/consent", {"number": CALLER}))
    assert 'id="opt-out-form"' in looked_up

    missing_note = console.post("/admin/operations/opt-outs", {"number": CALLER, "note": " "})
    assert missing_note.status_code == 400 and 'id="opt-out-error"' in text(missing_note)
    done = console.post(
        "/admin/operations/opt-outs", {"number": CALLER, "note": "asked on the phone, ticket 4411"}
    )

    assert done.status_code == 302
    with app.extensions["deflect"].database.session() as session:
        assert session.get(OptOut, CALLER) is not None
        record = session.scalars(select(ConsentRecord).where(ConsentRecord.kind == "opt_out")).one()
        assert (record.method, record.prompt_text) == ("admin", "asked on the phone, ticket 4411")
    [entry] = audit(app, "consent.opted_out")
    assert entry.actor == "ops@example.com (console)" and entry.subject == "number:+7916*****67"
    listed = text(console.get("/admin/operations/opt-outs"))
    assert "+7916*****67" in listed and "admin" in listed
    assert CALLER not in listed
    again = console.post("/admin/operations/opt-outs", {"number": CALLER, "note": "twice"})
    assert "had already opted out" in text(console.get(again.headers["Location"]))
    assert "Opted out since" in text(console.post("/admin/operations/consent", {"number": CALLER}))
    assert "The ledger is intact: 2 records checked." in text(console.get("/admin/operations/ledger"))


def test_a_dead_letter_is_replayed_from_the_console_once_the_desk_is_back(make_app: Any) -> None:
    from gateway.handoff.dispatch import MAX_ATTEMPTS, RetryLater
    from gateway.jobs import deliver_handoff, running_with

    receiver = Receiver()
    try:
        app = make_app(
            DEFLECT_HANDOFF_ADAPTERS="webhook",
            DEFLECT_HANDOFF_WEBHOOK_URL=receiver.url,
            DEFLECT_HANDOFF_WEBHOOK_SECRET="desk-shared-secret",
        )
        chat = open_chat_session(app)
        receiver.status = 503
        post_inbound(app.test_client(), f"номер {chat.reference}")
        with app.extensions["deflect"].database.session() as session:
            handoff_id = session.scalars(select(Handoff.id)).one()
        with running_with(app.extensions["deflect"]):
            for _ in range(MAX_ATTEMPTS - 1):
                with pytest.raises(RetryLater):
                    deliver_handoff(handoff_id)
            assert deliver_handoff(handoff_id) == "dead"
        console = signed_in(app, "admin", "ops@example.com")
        listed = text(console.get("/admin/operations/dead-letters"))
        assert f'id="dead-letter-{handoff_id}"' in listed and "503" in listed
        assert CALLER not in listed

        receiver.status = 200
        replayed = console.post("/admin/operations/dead-letters/replay", {"handoff_id": str(handoff_id)})
        assert replayed.status_code == 302
        assert "Queued again: 1." in text(console.get(replayed.headers["Location"]))
        run_jobs(app)

        with app.extensions["deflect"].database.session() as session:
            assert session.get(Handoff, handoff_id).status == "delivered"
        assert receiver.received[-1].json()["story"]["reference"] == chat.reference
        [entry] = audit(app, "handoff.replayed")
        assert (entry.actor, entry.subject) == ("ops@example.com (console)", f"handoff:{handoff_id}")
        again = console.post("/admin/operations/dead-letters/replay", {"handoff_id": str(handoff_id)})
        assert "is not a dead letter" in text(console.get(again.headers["Location"]))
    finally:
        receiver.stop()


def test_the_outbox_shows_each_message_status_without_numbers_or_links(app: Any, clock: ManualClock) -> None:
    accepted_offer(app, clock)
    with app.extensions["deflect"].database.session() as session:
        chat = session.scalars(select(Chat)).one()
        sms = session.scalars(select(SmsOutbox)).one()
        link_token, body, status = chat.link_token, sms.body, sms.status
    assert link_token in body  # the SMS carries the bearer link the page must not show
    console = signed_in(app, "admin")

    page = text(console.get("/admin/operations/outbox"))

    assert f">{status}<" in page and "+7916*****67" in page
    assert "[link]" in page and chat.reference in page
    assert link_token not in page and CALLER not in page and "/l/" not in page
    filtered = text(console.get(f"/admin/operations/outbox?status={status}"))
    assert "+7916*****67" in filtered
    other = text(console.get("/admin/operations/outbox?status=failed"))
    assert 'id="outbox-none"' in other


def test_no_list_page_shows_a_full_number_or_a_link_token(app: Any, clock: ManualClock) -> None:
    accepted_offer(app, clock)
    console = signed_in(app, "admin")
    console.post("/admin/operations/consent", {"number": CALLER})
    console.post("/admin/operations/opt-outs", {"number": CALLER, "note": "by e-mail"})
    with app.extensions["deflect"].database.session() as session:
        token = session.scalars(select(Chat.link_token)).one()
    for path in (*PAGES, "/admin/audit/", "/admin/audit/export.csv"):
        page = text(console.get(path))
        assert CALLER not in page and CALLER[1:] not in page, path
        assert token not in page, path


def test_a_range_lifted_by_hand_shows_in_the_pause_history(app: Any) -> None:
    from gateway.deflection.limits import range_pause_key

    app.extensions["deflect"].redis.set(range_pause_key("prefix", "+7916123"), "pumping", ex=3600)
    console = signed_in(app, "admin", "ops@example.com")
    lifted = console.post("/admin/operations/ranges/lift", {"range": "+7916123", "reason": "a real campaign"})
    assert lifted.status_code == 302
    page = text(console.get("/admin/operations/"))
    history = page[page.index('id="switch-history"') :]
    assert "messaging.range_resumed" in history and "a real campaign" in history
