"""The Redis failover scenario of issue 12, shared by `tests/multinode` (which asserts) and `python -m
bench.failover` (which prints): calls played round-robin across two gateway instances, as a load
balancer would, while the Redis primary is killed (SIGKILL) and Sentinel promotes its replica.

Each call is played the way Twilio plays it (`tests.support.played_calls`); its SMS goes to the
recording Messages API (`tests.support.multinode`).

What is checked afterwards, and counted, is in `Outcome`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rq.cron import CronScheduler
from sqlalchemy import func, select

from gateway.deflection.outbox import ACCEPTED_STATUSES
from gateway.store.call_log import PENDING_KEY
from gateway.store.db import Database
from gateway.store.models import CallEvent, SmsOutbox
from gateway.store.redis import Sentinels, close, connect
from tests.support.calls import Call
from tests.support.multinode import Installation, SmsApi
from tests.support.played_calls import (
    Answer,
    CallPlayer,
    PlayedCall,
    RoundRobin,
    caller_number,
    fallback_kind,
)
from tests.support.sentinel import MASTER, RedisSentinels

CALLS = 48
THREADS = 6
KILL_AFTER = 16  # calls started before the primary is killed
SETTLE_SECONDS = 240  # the outbox sweeper re-sends a lost job after 30-60 s
# Replication on loopback takes microseconds, so a plain kill would lose nothing: the replica is cut off
# for this long before the kill, and the primary's writes of that time die with it (queued SMS jobs,
# call states, guards), as they would behind a lagging replica.
REPLICATION_LAG = 0.3
# Calls' kinds of event the comparison counts (the others depend on the flow's details).
COUNTED_EVENTS = ("call.started", "call.fallback", "call.status", "consent.granted", "sms.queued")

UNSEEN = " (an empty answer to the queue result)"


def _unseen(kind: str, data: Any) -> str:
    """The fallback answer to the Enqueue action is an empty <Response/>, as the flow's own answer to a
    caller who hung up in the queue: the caller cannot tell them apart, so those are counted apart."""
    path = data.get("path") if isinstance(data, dict) else None
    return UNSEEN if kind == "call.fallback" and path == "/twilio/voice/queue-result" else ""


@dataclass
class Switch:
    """The failover as the test saw it (time.monotonic())."""

    killed_at: float = 0.0
    promoted_at: float = 0.0
    # What a new call and a queued caller's waitUrl got while the sentinels still named the dead primary.
    probe_fallbacks: tuple[str, str] = ("", "")
    lost_job_call: str = ""  # the call whose offer was accepted in the primary's last moment
    wall_promoted_at: float = 0.0  # time.time() at promotion (to compare with heartbeats)


@dataclass
class Outcome:
    """Everything the scenario saw and read back, for the test to assert and the bench to print."""

    calls: list[PlayedCall]
    switch: Switch
    served_by_instance: dict[int, int]
    outbox: dict[int, tuple[str, str]]  # outbox id -> (call sid, status)
    sends: dict[int, int]  # outbox id -> provider requests
    events: Counter[tuple[str, str]]  # (call sid, kind) -> rows, for COUNTED_EVENTS
    pending_events: int
    cron_before: list[str]
    cron_after: list[tuple[str, float]]  # (name, last heartbeat as a timestamp)
    rq_scheduler_lock: str | None
    rq_schedulers_alive: list[str]
    alive: dict[str, bool]
    resent_by_sweeper: int
    settle_seconds: float

    def webhooks(self) -> list[Answer]:
        return [answer for call in self.calls for answer in call.answers]

    def expected_events(self) -> Counter[tuple[str, str]]:
        """Per call: its start if the flow answered it, each fallback it was served, each status
        callback, and the consent and SMS events of its accepted offer (an outbox row)."""
        expected: Counter[tuple[str, str]] = Counter()
        for call in self.calls:
            expected[(call.call_sid, "call.started")] += int(call.started)
            expected[(call.call_sid, "call.fallback")] += call.fallbacks()
            expected[(call.call_sid, "call.status")] += call.statuses
        for call_sid, _status in self.outbox.values():
            expected[(call_sid, "consent.granted")] += 1
            expected[(call_sid, "sms.queued")] += 1
        return +expected  # without the zeros

    def lost_job_row(self) -> int | None:
        """The outbox row of the offer accepted in the primary's last moment (its job died with it)."""
        rows = [i for i, (call_sid, _) in self.outbox.items() if call_sid == self.switch.lost_job_call]
        return rows[0] if rows else None

    def stored_events(self) -> Counter[tuple[str, str]]:
        """The stored events the callers can account for (not the unseen fallbacks)."""
        return Counter({key: n for key, n in self.events.items() if not key[1].endswith(UNSEEN)})

    def counts(self) -> dict[str, Any]:
        answers = self.webhooks()
        during = [a for a in answers if self.switch.killed_at <= a.at <= self.switch.promoted_at]
        expected = self.expected_events()
        stored = self.stored_events()
        return {
            "calls": len(self.calls),
            "webhooks": len(answers),
            "webhooks by instance": dict(sorted(self.served_by_instance.items())),
            "webhooks not valid TwiML": sum(1 for a in answers if not a.valid),
            "webhooks during the switch": len(during),
            "fallbacks served": sum(1 for a in answers if a.fallback),
            "fallbacks: hold music": sum(1 for a in answers if a.fallback == "hold"),
            "fallbacks: fallback queue": sum(1 for a in answers if a.fallback == "queue"),
            "fallbacks: empty answers to the queue result": sum(
                n for key, n in self.events.items() if key[1].endswith(UNSEEN)
            ),
            "failover seconds (kill to promotion)": round(self.switch.promoted_at - self.switch.killed_at, 2),
            "offers accepted (outbox rows)": len(self.outbox),
            "callers told 'sending'": sum(1 for c in self.calls if c.accepted),
            "callers who left with the SMS": sum(1 for c in self.calls if c.left),
            "SMS sent (provider requests)": sum(self.sends.values()),
            "outbox rows sent once": sum(1 for i in self.outbox if self.sends.get(i) == 1),
            "outbox rows re-sent by the sweeper": self.resent_by_sweeper,
            "SMS of the offer accepted as the primary died": self.sends.get(self.lost_job_row() or -1, 0),
            "events expected": sum(expected.values()),
            "events stored (of those kinds)": sum(stored.values()),
            "events missing": sum((expected - stored).values()),
            "events extra": sum((stored - expected).values()),
            "events still buffered in Redis": self.pending_events,
            "cron schedulers before / after": f"{len(self.cron_before)} / {len(self.cron_after)}",
            "settle seconds": round(self.settle_seconds, 1),
        }


class Scenario:
    """The topology and the run: `with Scenario(work, database_url) as s: outcome = s.run()`."""

    def __init__(self, work: Path, database_url: str, *, calls: int = CALLS, threads: int = THREADS) -> None:
        self.work, self.database_url = work, database_url
        self.calls, self.threads = calls, threads
        self.redis = RedisSentinels(work / "redis")
        self.sms = SmsApi()
        self.nodes: Installation | None = None
        self.database = Database(database_url)

    def __enter__(self) -> Scenario:
        try:
            self.redis.start()
            self.nodes = Installation(self.work, self.database_url, self.redis.sentinels, self.sms.url)
            self.nodes.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.nodes is not None:
            self.nodes.stop()
        self.redis.stop()
        self.sms.stop()
        self.database.dispose()

    def primary(self) -> redis.Redis:
        """A client of whichever Redis the sentinels name now (as the gateway connects)."""
        addresses = tuple(("127.0.0.1", node.port) for node in self.redis.watchers)
        return connect(Sentinels(addresses, MASTER), socket_timeout=5.0, patient=True)

    def run(self, log: Callable[[str], None] = lambda _: None) -> Outcome:
        assert self.nodes is not None
        balancer = RoundRobin(self.nodes.ports)
        client = self.primary()
        cron_before = [s.name for s in CronScheduler.all(client)]
        started = threading.Semaphore(0)

        def one_call(n: int) -> PlayedCall:
            started.release()
            return CallPlayer(Call(balancer, caller=caller_number(n), queue_position=3, queue_size=5)).play()

        switch = Switch()
        with ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(one_call, n) for n in range(self.calls)]
            kill_after = min(KILL_AFTER, max(1, self.calls // 3))
            for _ in range(kill_after):
                started.acquire()
            log(f"{kill_after} calls started: killing the Redis primary (SIGKILL)")
            probes = self._kill_and_probe(balancer, switch)
            log(
                "before the sentinels noticed, a new call got the {!r} fallback and a queued caller the {!r} "
                "one".format(*switch.probe_fallbacks)
            )
            self.redis.wait_for_promotion()
            switch.promoted_at, switch.wall_promoted_at = time.monotonic(), time.time()
            log(f"replica promoted {switch.promoted_at - switch.killed_at:.1f} s after the kill")
            calls = [*probes, *(future.result() for future in futures)]
        log(f"{len(calls)} calls played; waiting for the outbox to settle")
        try:
            settle = self._settle(client)
            return self._outcome(calls, switch, balancer, client, cron_before, settle)
        finally:
            close(client)

    def _kill_and_probe(self, balancer: RoundRobin, switch: Switch) -> list[PlayedCall]:
        """The switch, with three callers of its own besides the others:

        - one accepts an offer in the last moment of the primary, whose writes reach neither the
          replica nor (the workers are stopped too) a worker: its SMS job dies with the primary and
          the outbox sweeper must send it, once;
        - then, while every sentinel still names the dead primary (the gateway can reach no Redis at
          all), a new call must get the fallback queue, and one already queued the hold music."""
        queued = CallPlayer(Call(balancer, caller=caller_number(10_000), queue_position=1))
        queued_at = queued.enter_queue()
        accepting = CallPlayer(Call(balancer, caller=caller_number(20_000), queue_position=3, queue_size=5))
        offer = accepting.post(accepting.enter_queue().attrib.get("waitUrl", ""))
        consent = accepting.post(offer.find("Gather").attrib["action"], Digits="1")
        old = {self.redis.primary.port}
        assert self.nodes is not None
        self.redis.pause_replica()
        self.nodes.pause_workers()
        try:
            sending = accepting.post(consent.find("Gather").attrib["action"], Digits="1")
            accepting.played.accepted = "sending" in sending.text
            switch.lost_job_call = accepting.played.call_sid
            time.sleep(REPLICATION_LAG)
            self.redis.kill_primary()
            switch.killed_at = time.monotonic()
        finally:
            self.redis.resume_replica()
            self.nodes.resume_workers()
        probes = [queued.played, accepting.played]
        for n in itertools.count(1):
            before = self.redis.master_port()
            waiting = queued.post(queued_at.attrib.get("waitUrl", ""))
            new = CallPlayer(Call(balancer, caller=caller_number(10_000 + n), queue_position=3))
            first = new.incoming()
            if first.all("Enqueue"):
                new.wait_url = first.find("Enqueue").attrib.get("waitUrl")
            new.hang_up()
            probes.append(new.played)
            if before == old and self.redis.master_port() == old:
                switch.probe_fallbacks = (fallback_kind(first), fallback_kind(waiting))
                break
            if n >= 20:
                raise RuntimeError("the sentinels switched before the probes could reach the dead primary")
        queued.hang_up()
        accepting.hang_up()
        return probes

    def _settle(self, client: redis.Redis) -> float:
        """Until every outbox row has its provider's answer, no job is left and no event waits in Redis."""
        from rq import Queue
        from rq.registry import StartedJobRegistry

        queue = Queue("default", connection=client)
        started_at = time.monotonic()
        while time.monotonic() - started_at < SETTLE_SECONDS:
            with self.database.session() as session:
                open_rows = session.scalar(
                    select(func.count(SmsOutbox.id)).where(
                        SmsOutbox.status.not_in([*ACCEPTED_STATUSES, "refused"])
                    )
                )
            busy = queue.count + StartedJobRegistry("default", connection=client).count
            if open_rows == 0 and busy == 0 and client.llen(PENDING_KEY) == 0:
                return time.monotonic() - started_at
            time.sleep(1)
        raise TimeoutError(f"the outbox did not settle within {SETTLE_SECONDS} s")

    def _outcome(
        self,
        calls: list[PlayedCall],
        switch: Switch,
        balancer: RoundRobin,
        client: redis.Redis,
        cron_before: list[str],
        settle: float,
    ) -> Outcome:
        assert self.nodes is not None
        with self.database.session() as session:
            outbox = {row.id: (row.call_sid, row.status) for row in session.scalars(select(SmsOutbox))}
            sids = [call.call_sid for call in calls]
            events: Counter[tuple[str, str]] = Counter()
            for sid, kind, data in session.execute(
                select(CallEvent.call_sid, CallEvent.kind, CallEvent.data).where(
                    CallEvent.kind.in_(COUNTED_EVENTS), CallEvent.call_sid.in_(sids)
                )
            ):
                events[(sid, kind + _unseen(kind, data))] += 1
        cron_after = [
            (s.name, heartbeat.timestamp() if (heartbeat := s.last_heartbeat) else 0.0)
            for s in CronScheduler.all(client)
        ]
        lock = client.get("rq:scheduler-lock:default")
        schedulers = [key.decode().split(":", 2)[2] for key in client.scan_iter("rq:scheduler:*")]
        resent = sum(
            int(line.split("re-enqueued ")[1].split()[0])
            for line in self.nodes.log_lines([n for n in self.nodes.processes if n.startswith("worker")])
            if "outbox sweeper re-enqueued" in line
        )
        return Outcome(
            calls=calls,
            switch=switch,
            served_by_instance={i + 1: n for i, n in balancer.served.items()},
            outbox=outbox,
            sends=self.sms.sends_per_outbox(),
            events=events,
            pending_events=int(client.llen(PENDING_KEY)),
            cron_before=cron_before,
            cron_after=cron_after,
            rq_scheduler_lock=lock.decode() if lock else None,
            rq_schedulers_alive=schedulers,
            alive=self.nodes.alive(),
            resent_by_sweeper=resent,
            settle_seconds=settle,
        )
