"""The production log of the paths that fail, read the way a log shipper reads it: JSON lines from the
real handler that `configure_logging` installs, holding no full number in any encoding, no message body
and no bearer link (`/l/<token>`, `/card/<token>`), while keeping the masked numbers that tell calls
apart."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from gateway.clock import ManualClock
from gateway.deflection.outbox import SENDING_LEASE
from gateway.jobs import deliver_handoff, enqueue_send, replay_parked_webhooks, running_with
from gateway.logs import configure_logging
from gateway.store.db import Database
from gateway.store.models import Chat, Handoff, SmsOutbox
from gateway.store.parked import park
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import ACCOUNT_SID, PUBLIC_BASE, Call, sign
from tests.support.messages import post_inbound
from tests.support.outage import locked
from tests.support.prism import PrismServer
from tests.support.receiver import Receiver
from tests.support.twilio_proxy import Fault, TwilioProxy

pytestmark = pytest.mark.contract

NOT_RECORDED = "+79161234567"  # accepts the offer while the database is locked
REFUSED = "+79031112233"  # Twilio fails, then refuses the SMS; writes in WhatsApp all the same
STRANGER = "+79265554433"  # writes in WhatsApp without a call
SECRET_WORDS = ("hunter2", "пароль", "4276 3800")  # what the customers wrote: a body never reaches a log


@pytest.fixture
def production_log(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """What the app's own stderr handler (installed by `configure_logging`) wrote, read at the end."""
    yield lambda: capsys.readouterr().err
    configure_logging("text", "info", production=False)  # the next test's handler is not on our stream


@pytest.fixture
def lockable_database(tmp_path: Path) -> str:
    """A SQLite database of this test's own, so another connection can lock it: a realistic outage."""
    path = tmp_path / "gateway.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return str(path)


def impatient(engine: Engine) -> None:
    """A locked database fails a write after 50 ms instead of the production 5 s (busy_timeout)."""

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    engine.dispose()


@pytest.fixture
def desk() -> Iterator[Receiver]:
    running = Receiver(echo_errors=True)
    yield running
    running.stop()


@pytest.fixture
def proxy(twilio_api: PrismServer) -> Iterator[TwilioProxy]:
    with TwilioProxy(twilio_api.url) as running:
        yield running


def whatsapp(client: Any, sender: str, body: str, sid: str) -> None:
    assert post_inbound(client, body, sender=sender, sid=sid).status_code == 200


def status_callback(client: Any, outbox_id: int, to: str) -> None:
    params = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "failed", "ErrorCode": "30006", "To": to}
    path = f"/twilio/messaging/status/{outbox_id}"
    response = client.post(
        path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC_BASE + path, params)}
    )
    assert response.status_code == 204


def test_production_log_of_failing_paths_holds_no_number_body_or_bearer_link(
    make_app: Any,
    clock: ManualClock,
    lockable_database: str,
    proxy: TwilioProxy,
    desk: Receiver,
    production_log: Any,
) -> None:
    app = make_app(
        DATABASE_URL=f"sqlite:///{lockable_database}",
        DEFLECT_ENV="production",
        DEFLECT_LOG_FORMAT="auto",
        DEFLECT_LOG_LEVEL="info",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_API_BASE_URL=proxy.url,
        TWILIO_SMS_FROM="+77012345678",
        TWILIO_HTTP_TIMEOUT="5",
        DEFLECT_HANDOFF_ADAPTERS="card,webhook",
        DEFLECT_HANDOFF_WEBHOOK_URL=desk.url,
        DEFLECT_HANDOFF_WEBHOOK_SECRET="desk-shared-secret",
    )
    services = app.extensions["deflect"]
    impatient(services.database.engine)
    client = app.test_client()

    # The database is locked when a caller accepts: nothing is recorded, and the caller is told.
    first = Call(client, caller=NOT_RECORDED)
    consent = reach_consent(first, clock)
    with locked(lockable_database):
        told = first.press(consent, "1")
    assert "не получилось" in told.said()

    # Twilio answers 500, then fails the look for an earlier attempt, then refuses the number.
    second = Call(client, caller=REFUSED)
    second.press(reach_consent(second, clock), "1")
    with services.database.session() as session:
        row = session.scalars(select(SmsOutbox)).one()
        chat = session.get(Chat, row.session_id)
        assert chat is not None
        outbox_id, reference, link_token = row.id, chat.reference, chat.link_token
    proxy.plan("POST", "/Messages.json", Fault.error(500))
    run_jobs(app)
    proxy.plan("GET", "/Messages.json", Fault.error(500))
    enqueue_send(services.queue, outbox_id, attempt=1)
    run_jobs(app)
    clock.advance(SENDING_LEASE.total_seconds() + 1)  # the failed look left the row claimed until then
    refusal = f"The 'To' number {REFUSED} is not a valid phone number."
    proxy.plan("POST", "/Messages.json", Fault.error(400, 21211, refusal))
    enqueue_send(services.queue, outbox_id, attempt=2)
    run_jobs(app)
    with services.database.session() as session:
        assert session.get(SmsOutbox, outbox_id).status == "refused"

    # Chats and a status callback arrive while the database is locked: parked, then replayed.
    with locked(lockable_database):
        client.get(f"/l/{link_token}")
        whatsapp(client, REFUSED, f"Здравствуйте, мой пароль hunter2, номер {reference}", "SM" + "a" * 32)
        whatsapp(client, STRANGER, "Мой пароль hunter2 к карте 4276 3800 не подходит", "SM" + "b" * 32)
        status_callback(client, outbox_id, REFUSED)
    with running_with(app.extensions["deflect"]):
        assert replay_parked_webhooks() == 3

    # Hand-offs: the card adapter, and a desk that answers 503, then 422 quoting what it was sent.
    desk.status = 503
    run_jobs(app)
    desk.status = 422
    with services.database.session() as session:
        webhook_ids = list(session.scalars(select(Handoff.id).where(Handoff.adapter == "webhook")))
    assert len(webhook_ids) == 2
    with running_with(app.extensions["deflect"]):
        assert [deliver_handoff(handoff_id) for handoff_id in webhook_ids] == ["dead", "dead"]
    with services.database.session() as session:
        errors = list(session.scalars(select(Handoff.last_error).where(Handoff.adapter == "webhook")))
    assert all("not accepted" in (error or "") for error in errors)  # the dead-letter list says why

    # A webhook parked by an earlier release, in a shape this one cannot read: dropped.
    older = {"MessageSid": "SM" + "c" * 32, "From": f"whatsapp:{REFUSED}", "Body": "мой пароль hunter2"}
    park(services.redis, "inbound", older, clock.time())
    with running_with(app.extensions["deflect"]):
        assert replay_parked_webhooks() == 1

    with services.database.session() as session:
        link_tokens = list(session.scalars(select(Chat.link_token)))
        cards = [h.payload["context_card_url"] for h in session.scalars(select(Handoff))]
    output = production_log()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    text = output + "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)

    messages = "\n".join(str(line.get("message")) for line in lines)
    for happened in (
        "could not be recorded",
        "parking it",
        "refused by the provider",
        "exception raised while executing",
        "dead letter",
        "dropped",
    ):
        assert happened in messages, f"the log does not show the failing path {happened!r}"
    assert any("exc_info" in line for line in lines)
    assert "+7903*****33" in text  # masked, the numbers still tell calls apart

    for number in (NOT_RECORDED, REFUSED, STRANGER):
        national = number[2:]  # in any encoding: +7916..., %2B7916..., 7916..., whatsapp:+7916...
        assert national not in text, f"{number} is in the log"
    for words in SECRET_WORDS:
        assert words not in text, f"a message body ({words!r}) is in the log"
    for token in link_tokens + [card.rsplit("/", 1)[1] for card in cards]:
        assert token not in text, "a bearer link's token is in the log"
    assert not re.search(r"/(?:l|card)/[A-Za-z0-9_-]{8,}", text)
