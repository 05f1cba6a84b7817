"""Messaging webhooks: signed status callbacks move the outbox row forward; STOP is recorded once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.store.models import CallEvent, ConsentRecord, OptOut, SmsOutbox
from tests.support.messages import post_signed
from tests.support.sessions import open_chat_session, outbox_id_of

BASE = "https://voice.example.test"


def _post(client: Any, path: str, params: dict[str, str], signed: bool = True) -> Any:
    return post_signed(client, path, params, signed=signed)


def _outbox_row(app: Any) -> int:
    return outbox_id_of(app, open_chat_session(app))


def _row(app: Any, outbox_id: int) -> SmsOutbox:
    with app.extensions["deflect"].database.session() as session:
        row = session.get(SmsOutbox, outbox_id)
        session.expunge(row)
        return row


def test_status_callbacks_move_the_row_forward_never_back(app: Any, client: Any) -> None:
    outbox_id = _outbox_row(app)
    path = f"/twilio/messaging/status/{outbox_id}"
    sid = "SM" + "2" * 32
    for status in ("sent", "delivered", "sent"):  # a late "sent" arrives after "delivered"
        response = _post(client, path, {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"})
        assert response.status_code == 204
    row = _row(app, outbox_id)
    assert (row.status, row.provider_sid) == ("delivered", sid)
    with app.extensions["deflect"].database.session() as session:
        assert session.scalar(select(func.count(CallEvent.id)).where(CallEvent.kind == "sms.status")) == 3


def test_undelivered_keeps_the_error_code(app: Any, client: Any) -> None:
    outbox_id = _outbox_row(app)
    _post(
        client,
        f"/twilio/messaging/status/{outbox_id}",
        {"MessageSid": "SM" + "3" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    row = _row(app, outbox_id)
    assert (row.status, row.error_code) == ("undelivered", 30003)


def test_forged_status_callback_changes_nothing(app: Any, client: Any) -> None:
    outbox_id = _outbox_row(app)
    params = {"MessageSid": "SM" + "4" * 32, "MessageStatus": "delivered"}
    assert _post(client, f"/twilio/messaging/status/{outbox_id}", params, signed=False).status_code == 403
    assert _row(app, outbox_id).status == "pending"


def test_callback_for_another_message_sid_is_ignored(app: Any, client: Any) -> None:
    outbox_id = _outbox_row(app)
    path = f"/twilio/messaging/status/{outbox_id}"
    _post(client, path, {"MessageSid": "SM" + "5" * 32, "MessageStatus": "sent"})
    _post(client, path, {"MessageSid": "SM" + "6" * 32, "MessageStatus": "failed"})
    assert _row(app, outbox_id).status == "sent"


def test_whatsapp_stop_is_recorded_once_and_acknowledged(app: Any, client: Any) -> None:
    params = {
        "MessageSid": "SM" + "7" * 32,
        "From": "whatsapp:+79161234567",
        "To": "whatsapp:+77001234567",
        "Body": " Stop! ",
        "WaId": "79161234567",
        "ProfileName": "Анна",
    }
    first = _post(client, "/twilio/messaging/inbound", params)
    assert "unsubscribed" in first.get_data(as_text=True)
    retried = _post(client, "/twilio/messaging/inbound", params)  # Twilio retried the webhook
    assert "<Message>" not in retried.get_data(as_text=True)
    other = _post(client, "/twilio/messaging/inbound", {**params, "MessageSid": "SM" + "8" * 32})
    assert other.status_code == 200
    with app.extensions["deflect"].database.session() as session:
        assert session.get(OptOut, "+79161234567").channel == "whatsapp"
        kinds = list(session.scalars(select(ConsentRecord.kind)))
    assert kinds == ["opt_out"]


def test_a_message_that_only_mentions_stop_is_not_an_opt_out(app: Any, client: Any) -> None:
    params = {
        "MessageSid": "SM" + "9" * 32,
        "From": "+79161234567",
        "To": "+77012345678",
        "Body": "Не могу остановить платёж, stop it please",
    }
    _post(client, "/twilio/messaging/inbound", params)
    with app.extensions["deflect"].database.session() as session:
        assert session.get(OptOut, "+79161234567") is None
