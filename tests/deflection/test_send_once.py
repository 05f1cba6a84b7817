"""Exactly one SMS per accepted offer, whatever Twilio or the workers retry, and the caller keeps their
place until Twilio has accepted the message."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.clock import ManualClock
from gateway.deflection.outbox import TransientSendError, send_once, stuck_rows
from gateway.jobs import running_with
from gateway.messaging.segments import count_segments
from gateway.store.models import Call as CallRow
from gateway.store.models import Chat, ConsentRecord, SmsOutbox
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import Call
from tests.support.twilio_proxy import Fault, TwilioProxy

pytestmark = pytest.mark.contract


def _outbox(app: Any) -> list[SmsOutbox]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(SmsOutbox).order_by(SmsOutbox.id)))
        session.expunge_all()
        return rows


def _accept(call: Call, clock: ManualClock) -> Any:
    consent = reach_consent(call, clock)
    return call.press(consent, "1")


def test_accepted_offer_sends_one_sms_with_link_and_reference_then_caller_leaves(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    sending = _accept(caller, clock)
    assert "Отправляем" in sending.said()
    assert sending.verbs() == ["Say", "Pause", "Redirect"]
    assert proxy.created_messages() == []  # not before the job runs
    still = caller.post(sending.find("Redirect").text or "")
    assert still.verbs() == ["Pause", "Redirect"]  # the caller keeps their place meanwhile
    run_jobs(twilio_app)
    sent = caller.post(still.find("Redirect").text or "")
    assert sent.verbs() == ["Say", "Leave"]
    assert "45 67" in sent.said()

    [message] = proxy.created_messages()
    [row] = _outbox(twilio_app)
    with twilio_app.extensions["deflect"].database.session() as session:
        chat = session.get(Chat, row.session_id)
        assert chat is not None
        reference, token = chat.reference, chat.link_token
        assert chat.context["menu_path"][:3] == ["greeting", "check_hours", "main_menu"]
        assert chat.context["queue"] == "bank-cards"
    assert message["to"] == "+79161234567"
    assert message["from"] == "+77012345678"
    assert reference in message["body"]
    assert f"https://voice.example.test/l/{token}" in message["body"]
    assert (row.status, row.provider_sid, row.encoding) == ("queued", message["sid"], "UCS-2")
    assert row.segments == count_segments(row.body).segments == 2
    # The form Twilio received carried our status callback for this row.
    create = next(r for r in proxy.requests if r.method == "POST")
    assert create.form["StatusCallback"] == f"https://voice.example.test/twilio/messaging/status/{row.id}"

    left = caller.queue_result("leave")
    assert left.verbs() == ["Hangup"]
    with twilio_app.extensions["deflect"].database.session() as session:
        assert session.get(CallRow, caller.call_sid).outcome == "deflected"  # not an abandon


def test_duplicate_consent_post_still_sends_one(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    consent = reach_consent(caller, clock)
    first = caller.press(consent, "1")
    again = caller.press(consent, "1")  # Twilio retried the Gather action
    assert again.status == 200
    assert again.verbs() == ["Pause", "Redirect"]  # the retry just follows the first one's sending
    assert again.find("Redirect").text == "https://voice.example.test/twilio/voice/sending"
    run_jobs(twilio_app)
    run_jobs(twilio_app)
    assert len(proxy.created_messages()) == 1
    assert len(_outbox(twilio_app)) == 1
    with twilio_app.extensions["deflect"].database.session() as session:
        assert session.scalar(select(func.count(ConsentRecord.id))) == 1
    assert first.status == 200


def test_server_error_then_success_sends_one(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    from gateway.jobs import send_sms

    _accept(caller, clock)
    [row] = _outbox(twilio_app)
    proxy.plan("POST", "/Messages.json", Fault.error(503), Fault.error(429, 20429, "Too Many Requests"))
    with running_with(twilio_app.extensions["deflect"]):
        with pytest.raises(TransientSendError):
            send_sms(row.id)
        with pytest.raises(TransientSendError):
            send_sms(row.id)
        assert send_sms(row.id) == "queued"
        assert send_sms(row.id) == "queued"  # a stray retry after success changes nothing
    assert len(proxy.created_messages()) == 1
    assert _outbox(twilio_app)[0].attempts == 3


def test_permanent_error_is_not_retried_and_caller_is_told_and_kept_in_queue(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    proxy.plan("POST", "/Messages.json", Fault.error(400, 21614, "'To' number is not a valid mobile number"))
    sending = _accept(caller, clock)
    run_jobs(twilio_app)  # the job returns normally: RQ has nothing to retry
    [row] = _outbox(twilio_app)
    assert (row.status, row.error_code) == ("refused", 21614)
    told = caller.post(sending.find("Redirect").text or "")
    assert "не получилось" in told.said()
    assert told.find("Redirect").text == "https://voice.example.test/twilio/voice/wait"
    assert caller.wait().verbs()[-1] == "Play"  # still in queue, and no new offer
    run_jobs(twilio_app)
    assert proxy.created_messages() == []
    assert len([r for r in proxy.requests if r.method == "POST"]) == 1


def test_response_lost_after_twilio_accepted_is_not_sent_twice(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    from gateway.jobs import send_sms

    _accept(caller, clock)
    [row] = _outbox(twilio_app)
    proxy.plan("POST", "/Messages.json", Fault.drop_after_forward())
    with running_with(twilio_app.extensions["deflect"]):
        with pytest.raises(TransientSendError):
            send_sms(row.id)  # Twilio took it, the answer never came back
        assert send_sms(row.id) == "queued"  # the retry asks Twilio first and finds it
    assert len(proxy.created_messages()) == 1
    assert _outbox(twilio_app)[0].provider_sid == proxy.created_messages()[0]["sid"]


class _KilledAfterSending:
    """A provider whose worker dies right after Twilio accepted the message."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def send(self, **kwargs: Any) -> Any:
        self.provider.send(**kwargs)
        raise SystemExit("worker killed")

    def find_sent(self, **kwargs: Any) -> Any:
        return self.provider.find_sent(**kwargs)


def test_worker_killed_mid_send_and_swept_later_sends_one(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    _accept(caller, clock)
    [row] = _outbox(twilio_app)
    services = twilio_app.extensions["deflect"]
    with pytest.raises(SystemExit):
        send_once(
            services.database,
            _KilledAfterSending(services.provider),
            row.id,
            clock=clock,
            status_callback="https://x.test/cb",
        )
    assert _outbox(twilio_app)[0].status == "sending"
    assert stuck_rows(services.database, clock.now()) == []  # another worker may still be on it
    clock.advance(120)
    assert stuck_rows(services.database, clock.now()) == [row.id]
    assert (
        send_once(
            services.database, services.provider, row.id, clock=clock, status_callback="https://x.test/cb"
        )
        == "queued"
    )
    assert len(proxy.created_messages()) == 1


def test_two_workers_on_one_row_send_one(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    _accept(caller, clock)
    [row] = _outbox(twilio_app)
    services = twilio_app.extensions["deflect"]
    proxy.plan("POST", "/Messages.json", Fault.delay(0.5))
    results: list[str] = []

    def work() -> None:
        results.append(
            send_once(
                services.database, services.provider, row.id, clock=clock, status_callback="https://x.test/cb"
            )
        )

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["queued", "sending"]
    assert len(proxy.created_messages()) == 1


def test_sweeper_requeues_a_message_whose_job_redis_lost(
    twilio_app: Any, caller: Call, clock: ManualClock, proxy: TwilioProxy
) -> None:
    from gateway.jobs import sweep_outbox

    _accept(caller, clock)
    services = twilio_app.extensions["deflect"]
    services.queue.empty()  # Redis lost the job
    clock.advance(300)
    with running_with(twilio_app.extensions["deflect"]):
        assert sweep_outbox() == 1
        assert sweep_outbox() == 1  # swept twice before a worker ran: still one job
    assert services.queue.count == 1
    run_jobs(twilio_app)
    with running_with(twilio_app.extensions["deflect"]):
        assert sweep_outbox() == 0
    assert len(proxy.created_messages()) == 1


@pytest.mark.parametrize("machine_date", ["2026-11-20", "2026-11-26", "2031-06-01"])
def test_a_lost_job_is_swept_and_sent_whatever_the_machine_date(
    twilio_app: Any,
    caller: Call,
    clock: ManualClock,
    proxy: TwilioProxy,
    time_machine: Any,
    machine_date: str,
) -> None:
    """The sweeper once compared rows written on the injected clock with the machine's: it found
    nothing to resend on any day after the test clock's."""
    from gateway.jobs import sweep_outbox

    time_machine.move_to(datetime.fromisoformat(machine_date).replace(tzinfo=UTC), tick=False)
    _accept(caller, clock)
    twilio_app.extensions["deflect"].queue.empty()  # Redis lost the job
    clock.advance(300)
    with running_with(twilio_app.extensions["deflect"]):
        assert sweep_outbox() == 1
    run_jobs(twilio_app)
    assert len(proxy.created_messages()) == 1


def test_job_carries_the_retry_policy(twilio_app: Any, caller: Call, clock: ManualClock) -> None:
    _accept(caller, clock)
    [job] = twilio_app.extensions["deflect"].queue.get_jobs()
    assert job.retries_left == 5
    assert job.retry_intervals == [2, 5, 15, 30, 60]
    assert job.id == f"sms-{_outbox(twilio_app)[0].id}"


def test_sms_link_points_where_twilio_reached_us_without_a_public_base_url(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, PUBLIC_BASE_URL="")
    call = Call(app.test_client(), base="http://127.0.0.1:8123")
    _accept(call, clock)
    run_jobs(app)
    [message] = proxy.created_messages()
    assert "http://127.0.0.1:8123/l/" in message["body"]
