"""SMS leave in batches (one send job takes the rows accepted since), still exactly one per accepted
offer: whatever a job, a worker, Redis or Twilio does, and whatever order they do it in."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway import jobs
from gateway.clock import ManualClock
from gateway.deflection.outbox import TransientSendError, send_batch
from gateway.jobs import running_with, send_sms, sweep_outbox
from gateway.store.models import SmsOutbox
from tests.deflection.conftest import reach_consent, run_jobs
from tests.support.calls import Call
from tests.support.messages import post_signed
from tests.support.twilio_proxy import Fault, TwilioProxy

pytestmark = pytest.mark.contract

BATCH = 4


@pytest.fixture
def app(make_app: Any, twilio_config: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(jobs, "SEND_BATCH", BATCH)  # small batches: a few calls fill several
    return make_app(
        **twilio_config,
        DEFLECT_SENDER_MPS="1000",
        # Every test caller shares one destination code: the pumping trips would (rightly) stop them.
        DEFLECT_TRIP_PER_NDC="0",
        DEFLECT_SMS_PER_NDC_HOUR="0",
    )


def _accept(app: Any, clock: ManualClock, count: int, first: int = 0) -> list[int]:
    """`count` callers (each in a prefix of their own) accept the offer; their outbox ids."""
    for n in range(first, first + count):
        call = Call(app.test_client(), caller=f"+7916{n:03d}4567")
        assert call.press(reach_consent(call, clock), "1").status == 200
    return [row.id for row in _rows(app)][first:]


def _rows(app: Any) -> list[SmsOutbox]:
    with app.extensions["deflect"].database.session() as session:
        rows = list(session.scalars(select(SmsOutbox).order_by(SmsOutbox.id)))
        session.expunge_all()
        return rows


def _ready(app: Any) -> list[int]:
    services = app.extensions["deflect"]
    return [int(i) for i in services.redis.lrange(f"deflect:sms:ready:{services.queue.name}", 0, -1)]


def _each_sent_once(app: Any, proxy: TwilioProxy) -> None:
    created = proxy.created_messages()
    rows = _rows(app)
    assert sorted(m["sid"] for m in created) == sorted(row.provider_sid for row in rows)
    assert len({m["to"] for m in created}) == len(created) == len(rows)
    assert {row.status for row in rows} == {"queued"}


def test_offers_accepted_while_no_worker_runs_leave_in_a_few_jobs_each_once(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    ids = _accept(app, clock, 9)
    queue = app.extensions["deflect"].queue
    assert queue.count == 1  # the first offer's job; the others wait on the ready list for it
    assert _ready(app) == ids[1:]
    run_jobs(app)
    _each_sent_once(app, proxy)
    assert queue.finished_job_registry.count == 3  # 9 SMS in batches of 4, 4 and 1
    assert _ready(app) == []


def test_an_offer_accepted_while_a_send_job_waits_joins_it_and_later_ones_get_their_own(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    queue = app.extensions["deflect"].queue
    _accept(app, clock, 2)
    assert queue.count == 1
    run_jobs(app)
    assert len(proxy.created_messages()) == 2
    _accept(app, clock, 1, first=2)  # the job has started since: this offer needs one of its own
    assert queue.count == 1
    run_jobs(app)
    _each_sent_once(app, proxy)


def test_a_send_job_run_twice_sends_nothing_twice(app: Any, clock: ManualClock, proxy: TwilioProxy) -> None:
    first, second = _accept(app, clock, 2)
    run_jobs(app)
    with running_with(app.extensions["deflect"]):
        assert send_sms(first) == "queued"
        assert send_sms(second) == "queued"
    _each_sent_once(app, proxy)


def test_a_transient_error_mid_batch_leaves_the_rest_for_the_retry(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    ids = _accept(app, clock, BATCH)
    proxy.plan("POST", "/Messages.json", Fault.delay(0), Fault.delay(0), Fault.error(503))
    with running_with(app.extensions["deflect"]):
        with pytest.raises(TransientSendError):
            send_sms(ids[0])
        rows = _rows(app)
        assert [row.status for row in rows] == ["queued", "queued", "pending", "pending"]
        assert (rows[2].attempts, rows[2].error_code) == (1, 20503)
        assert rows[3].attempts == 0  # never tried: as it was
        assert _ready(app) == ids[2:]  # first in line for the next job: RQ's retry of this one
        assert send_sms(ids[0]) == "queued"
    _each_sent_once(app, proxy)
    assert len([r for r in proxy.requests if r.method == "POST"]) == BATCH + 1


def test_rows_of_a_ready_list_redis_lost_are_sent_by_the_sweeper(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    _accept(app, clock, 3)
    services = app.extensions["deflect"]
    services.redis.delete(f"deflect:sms:ready:{services.queue.name}")
    run_jobs(app)
    assert len(proxy.created_messages()) == 1  # the job's own row
    clock.advance(300)
    with running_with(services):
        assert sweep_outbox() == 2
    run_jobs(app)
    _each_sent_once(app, proxy)


class _KilledAfterSending:
    """A provider whose worker dies right after Twilio accepted the `nth` message of a batch."""

    def __init__(self, provider: Any, nth: int) -> None:
        self.provider, self.nth, self.sent = provider, nth, 0

    def send(self, **kwargs: Any) -> Any:
        accepted = self.provider.send(**kwargs)
        self.sent += 1
        if self.sent == self.nth:
            raise SystemExit("worker killed")
        return accepted

    def find_sent(self, **kwargs: Any) -> Any:
        return self.provider.find_sent(**kwargs)


def test_worker_killed_mid_batch_and_swept_later_sends_each_once(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    ids = _accept(app, clock, 3)
    services = app.extensions["deflect"]
    provider = services.provider
    services.provider = _KilledAfterSending(provider, 2)
    try:
        with running_with(services), pytest.raises(SystemExit):
            send_sms(ids[0])
    finally:
        services.provider = provider
    rows = _rows(app)
    # What Twilio took before the crash is recorded; the one under way when it died is held; the
    # one never tried is free again.
    assert [(row.status, row.attempts) for row in rows] == [("queued", 1), ("sending", 1), ("pending", 0)]
    clock.advance(120)  # past the sending lease
    with running_with(services):
        assert sweep_outbox() == 2
    run_jobs(app)
    _each_sent_once(app, proxy)
    assert len([r for r in proxy.requests if r.method == "GET"]) == 1  # the held row: asked first


class _StatusCallbackFirst:
    """Twilio is quick: its status callback arrives before the batch has written what it sent."""

    def __init__(self, provider: Any, client: Any) -> None:
        self.provider, self.client = provider, client

    def send(self, **kwargs: Any) -> Any:
        accepted = self.provider.send(**kwargs)
        path = kwargs["status_callback"].removeprefix("https://voice.example.test")
        params = {"MessageSid": accepted.sid, "MessageStatus": "delivered", "AccountSid": "AC1"}
        assert post_signed(self.client, path, params).status_code == 204
        return accepted

    def find_sent(self, **kwargs: Any) -> Any:
        return self.provider.find_sent(**kwargs)


def test_a_status_callback_that_overtakes_the_batch_keeps_its_status(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    ids = _accept(app, clock, 2)
    services = app.extensions["deflect"]
    statuses = send_batch(
        services.database,
        _StatusCallbackFirst(services.provider, app.test_client()),
        ids,
        clock=clock,
        status_callback=lambda row_id: f"https://voice.example.test/twilio/messaging/status/{row_id}",
    )
    assert statuses == {ids[0]: "queued", ids[1]: "queued"}  # what Twilio answered the create
    rows = _rows(app)
    assert [row.status for row in rows] == ["delivered", "delivered"]
    assert [row.provider_sid for row in rows] == [m["sid"] for m in proxy.created_messages()]
    assert all(row.accepted_at is not None for row in rows)


def test_a_slow_sender_gets_batches_of_what_it_may_send_in_five_seconds(
    make_app: Any, twilio_config: dict[str, str], clock: ManualClock, proxy: TwilioProxy
) -> None:
    app = make_app(**twilio_config, DEFLECT_SENDER_MPS="1", DEFLECT_TRIP_PER_NDC="0")
    _accept(app, clock, 7)
    started = clock.time()
    run_jobs(app)
    _each_sent_once(app, proxy)
    assert app.extensions["deflect"].queue.finished_job_registry.count == 2  # 5, then 2
    assert clock.time() - started >= 6  # one a second: the batch waited for its sender slots


def test_a_batch_that_outlasts_half_the_lease_leaves_its_rest_to_the_next_job(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    # A shared sender (or a slow provider) can make a batch wait: a row still held when its lease
    # ends would be claimed again by a retry and sent twice. The batch stops in time instead.
    from gateway.deflection.outbox import BATCH_TIME

    ids = _accept(app, clock, 3)
    services = app.extensions["deflect"]
    statuses = send_batch(
        services.database,
        services.provider,
        ids,
        clock=clock,
        status_callback=lambda row_id: f"https://voice.example.test/twilio/messaging/status/{row_id}",
        throttle=lambda _to_go: clock.advance(BATCH_TIME.total_seconds() * 0.6) or 0.0,  # 18 s a row
    )
    assert [statuses[i] for i in ids] == ["queued", "queued", "pending"]
    assert [row.status for row in _rows(app)] == ["queued", "queued", "pending"]
    clock.advance(60)  # nothing queued it here (a send job would): the sweeper sends it, once
    with running_with(services):
        sweep_outbox()
    run_jobs(app)
    _each_sent_once(app, proxy)


def test_a_send_job_that_could_not_be_queued_leaves_no_flag_behind(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flag says "a send job is queued": without the job, later rows would join a list nobody
    # takes and wait for the sweeper while their callers hear "sending".
    import redis

    queue = app.extensions["deflect"].queue

    def refused(*_: Any) -> None:
        raise redis.ConnectionError("the queue is unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(jobs, "_enqueue_once", refused)
        with pytest.raises(redis.ConnectionError):
            jobs.enqueue_send(queue, 101)
    assert not queue.connection.exists(f"deflect:sms:send-queued:{queue.name}")
    jobs.enqueue_send(queue, 102)  # the next acceptance gets a job of its own
    assert queue.fetch_job("sms-102") is not None
    assert _ready(app) == []


def test_events_that_cannot_be_stored_never_cost_the_batch_its_outcomes(
    app: Any, clock: ManualClock, proxy: TwilioProxy
) -> None:
    """The batch's `sms.sent` events are for reports: with the call log's table gone, the provider's
    sids are still written and nothing is sent twice."""
    from sqlalchemy import text

    _accept(app, clock, 2)
    database = app.extensions["deflect"].database
    with database.session() as session:
        session.execute(text("ALTER TABLE call_events RENAME TO call_events_away"))
    try:
        run_jobs(app)
        run_jobs(app)
    finally:
        with database.session() as session:
            session.execute(text("ALTER TABLE call_events_away RENAME TO call_events"))
    _each_sent_once(app, proxy)
