"""Several nodes through a Redis failover: two gateway instances behind a round-robin balancer, two job
workers and a scheduler on one PostgreSQL database, Redis as a primary, a replica and three sentinels.
Calls keep coming while the primary is killed and Sentinel promotes the replica; the scenario is
`tests.support.failover` (also `python -m bench.failover`), the guarantees are asserted here."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from gateway.events import Event
from gateway.store.call_log import PENDING_KEY, CallLog
from gateway.store.db import Database
from gateway.store.models import CallEvent
from gateway.store.parked import PARKED_KEY, park
from gateway.store.redis import Sentinels, close, connect
from tests.support.failover import Outcome, Scenario
from tests.support.sentinel import MASTER, RedisSentinels

pytestmark = [pytest.mark.multinode, pytest.mark.timeout(900)]

# Where each fallback belongs: a caller not yet queued is put in the fallback queue; one already in a
# queue (its waitUrl, or a Gather inside it) keeps their place with hold music.
QUEUED_PATHS = ("/twilio/voice/wait", "/twilio/voice/offer", "/twilio/voice/consent", "/twilio/voice/sending")
NOT_QUEUED_PATHS = ("/twilio/voice/incoming", "/twilio/voice/menu/", "/twilio/voice/step/")


@pytest.fixture(scope="module")
def outcome(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, postgresql_url: str
) -> Outcome:
    """One run of the scenario, shared by the assertions below (it takes a couple of minutes)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with Scenario(tmp_path_factory.mktemp("failover"), postgresql_url) as scenario:
        result = scenario.run()
    with capture.global_and_fixture_disabled():  # the counts, for whoever quotes them (also on success)
        print("\nRedis failover across two gateway instances:")
        for name, value in result.counts().items():
            print(f"  {name}: {value}")
    return result


def test_every_webhook_answers_valid_twiml_with_the_fallback_during_the_switch(outcome: Outcome) -> None:
    answers = outcome.webhooks()
    assert [a for a in answers if not a.valid] == []
    # While every sentinel still named the dead primary: a new call went to the fallback queue, and a
    # caller already queued kept their place with the hold music.
    assert outcome.switch.probe_fallbacks == ("queue", "hold")
    for answer in answers:
        if answer.fallback == "hold":
            assert answer.path.startswith(QUEUED_PATHS), answer
        elif answer.fallback == "queue":
            assert answer.path.startswith(NOT_QUEUED_PATHS), answer
    assert set(outcome.served_by_instance) == {1, 2}  # both instances served, round-robin


def test_no_accepted_offer_lost_its_sms_and_none_got_two(outcome: Outcome) -> None:
    assert outcome.outbox, "no offer was accepted: the scenario did not reach the SMS"
    assert {outbox_id: outcome.sends.get(outbox_id, 0) for outbox_id in outcome.outbox} == {
        outbox_id: 1 for outbox_id in outcome.outbox
    }
    assert set(outcome.sends) == set(outcome.outbox)  # nothing sent for a row that does not exist
    calls_with_rows = [call_sid for call_sid, _ in outcome.outbox.values()]
    assert len(calls_with_rows) == len(set(calls_with_rows))  # one accepted offer per call
    told = {call.call_sid for call in outcome.calls if call.accepted}
    assert told <= set(calls_with_rows)  # every caller told "sending" has the row it was told about
    # The offer accepted as the primary died: its SMS job died with it, and the sweeper sent it.
    assert outcome.switch.lost_job_call in told
    assert outcome.lost_job_row() is not None
    assert outcome.resent_by_sweeper >= 1


def test_no_call_event_was_lost(outcome: Outcome) -> None:
    assert outcome.pending_events == 0
    assert outcome.stored_events() == outcome.expected_events()


def test_the_scheduler_kept_one_active_instance(outcome: Outcome) -> None:
    assert len(outcome.cron_before) == 1
    [(name, heartbeat)] = outcome.cron_after
    assert name == outcome.cron_before[0]  # the same process, not a second one nor a restart
    assert heartbeat > outcome.switch.wall_promoted_at  # beating on the promoted primary
    # RQ's own scheduler (retries, delayed jobs) runs in one worker at a time, by a lock.
    assert outcome.rq_scheduler_lock in outcome.rq_schedulers_alive
    assert outcome.alive == dict.fromkeys(outcome.alive, True)  # gateways, workers, scheduler


def _broken_database() -> Database:
    return Database("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)


def test_events_waiting_for_the_database_survive_a_failover(
    tmp_path: Path, postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The call log buffers events in Redis while the database is down; each buffered write waits for
    a replica, so killing the primary right after loses nothing. Without a replica to confirm, the
    log says the events wait on the primary alone."""
    database = Database(postgresql_url)
    database.upgrade()
    with RedisSentinels(tmp_path) as redis_nodes:
        where = Sentinels(tuple(("127.0.0.1", n.port) for n in redis_nodes.watchers), MASTER)
        client = connect(where, patient=True)
        broken = _broken_database()
        down = CallLog(broken, client)
        call_sid = "CA" + "7" * 32
        with caplog.at_level(logging.ERROR, logger="gateway.store"):
            down.record(call_sid, [Event("call.status", {"status": "completed"})], 1_800_000_000.0)
            park(client, "status", {"outbox_id": 1, "form": {"MessageSid": "SM" + "1" * 32}}, 1_800_000_000.0)
        assert [r.message for r in caplog.records] == []  # confirmed by the replica

        redis_nodes.kill_primary()
        redis_nodes.wait_for_promotion()
        assert client.llen(PARKED_KEY) == 1
        assert CallLog(database, client).flush_pending() == 1
        with database.session() as session:
            stored = session.scalars(select(CallEvent.kind).where(CallEvent.call_sid == call_sid)).all()
        assert stored == ["call.status"]

        redis_nodes.replica.wait_until(lambda: client.ping(), "the promoted primary to answer")
        with caplog.at_level(logging.ERROR, logger="gateway.store"):
            down.record(call_sid, [Event("call.status", {"status": "completed"})], 1_800_000_001.0)
        assert client.llen(PENDING_KEY) == 1  # kept, on the new primary, which has no replica left
        [line] = [r.getMessage() for r in caplog.records]
        assert f"1 events of {call_sid} wait on the Redis primary alone" in line
        broken.dispose()
        close(client)
    database.dispose()


def test_a_webhook_connection_gives_up_at_once_while_a_worker_waits_for_the_new_primary(
    tmp_path: Path,
) -> None:
    """Under Sentinel, when no primary can be found, a webhook's Redis call fails after its few tries
    (the caller then gets the fallback), while a worker's keeps trying until the sentinels have
    promoted the replica, and succeeds there."""
    with RedisSentinels(tmp_path) as redis_nodes:
        where = Sentinels(tuple(("127.0.0.1", n.port) for n in redis_nodes.watchers), MASTER)
        webhook, worker = connect(where), connect(where, patient=True)
        worker.set("deflect:test", "before")
        redis_nodes.pause_sentinels()
        redis_nodes.kill_primary()
        try:
            with pytest.raises(redis.ConnectionError):
                webhook.get("deflect:test")
        finally:
            threading.Timer(0.5, redis_nodes.resume_sentinels).start()
        assert worker.get("deflect:test") == b"before"  # on the promoted replica
        close(webhook)
        close(worker)
