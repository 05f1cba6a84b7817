"""RQ queues and job entry points: small functions that load by id and call the domain.

Every job is safe to run twice. Jobs are enqueued after the database commit, with a job id derived from
the natural key (the outbox row), so a second enqueue of the same send is a no-op. Periodic work is a
list of definitions with stable names, run by `deflect scheduler`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

if TYPE_CHECKING:  # services.py wires the enqueue functions below: only the type comes from there
    from gateway.services import Services

log = logging.getLogger(__name__)

# The services of this process, which jobs run with: `deflect worker` binds them once. Not Flask's app
# context: jobs are not requests.
_bound: Services | None = None
# A block's own services (a test, the simulator, a test call played in a web process), for this thread
# or greenlet only: two test calls played at once in one process each run their jobs with their own.
_running: ContextVar[Services | None] = ContextVar("jobs_running_with", default=None)


def bind(services: Services | None) -> None:
    global _bound
    _bound = services


@contextmanager
def running_with(services: Services) -> Iterator[None]:
    """Run jobs in this block (in this thread or greenlet) with `services`, then as before."""
    token = _running.set(services)
    try:
        yield
    finally:
        _running.reset(token)


# Backoff for transient provider errors (429, 5xx, timeouts); permanent ones are never retried.
SEND_RETRY = Retry(max=5, interval=[2, 5, 15, 30, 60])


def _services() -> Services:
    services = _running.get() or _bound
    if services is None:
        raise RuntimeError("no services bound: jobs run in `deflect worker` (or inside jobs.running_with)")
    return services


def status_callback_url(base: str, outbox_id: int) -> str:
    return f"{base}/twilio/messaging/status/{outbox_id}"


# SMS leave in batches. RQ's own bookkeeping costs a job some 60 Redis round trips, as much CPU as
# several sends, so one send job sends up to SEND_BATCH rows: its own, then rows accepted since, taken
# from a ready list in Redis. The list is rebuildable: should it be lost, the rows are still pending in
# the outbox and the sweeper sends them. The flag is set while a send job is queued and not started:
# an acceptance that finds it set only adds its row to the list, which that job will take. Both steps
# are Lua scripts, atomic against each other, so no row is ever left on the list without a job.
SEND_BATCH = 50
# ... and no more than the sender may send in this many seconds (DEFLECT_SENDER_MPS): a job that
# waits for sender slots holds its rows, and stays well inside RQ's job timeout.
_BATCH_SECONDS = 5
_READY = "deflect:sms:ready:{queue}"
_JOB_QUEUED = "deflect:sms:send-queued:{queue}"
_JOB_QUEUED_TTL = 10  # seconds: should that job never start, the next acceptance queues another

# An accepted row: 1 if it gets a job of its own (the flag was free, and is now this row's), else 0
# (it waits on the list for the queued job).
_OFFER_READY = """
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 0
"""
# A send job starts: it takes its companions off the list; if rows are left, the next job's own row
# too, and the flag becomes that job's (queued right after).
_TAKE_READY = """
redis.call('DEL', KEYS[2])
local taken = redis.call('LPOP', KEYS[1], ARGV[1]) or {}
local successor = redis.call('LPOP', KEYS[1])
if successor then redis.call('SET', KEYS[2], successor, 'EX', ARGV[2]) else successor = '' end
return {successor, taken}
"""


def _ready_keys(queue: Queue) -> tuple[str, str]:
    return _READY.format(queue=queue.name), _JOB_QUEUED.format(queue=queue.name)


def send_sms(outbox_id: int) -> str:
    """Send one outbox row's SMS, exactly once, with up to SEND_BATCH - 1 other rows that are ready
    (see deflection.outbox.send_batch); returns this row's status. Safe to run twice: a row that went
    is never claimed again. A transient error puts the other unsent rows back on the ready list and
    raises, so RQ retries this job with backoff, and it takes them again."""
    from gateway.deflection.limits import SenderThrottle
    from gateway.deflection.outbox import TransientSendError, send_batch

    svc = _services()
    sender = svc.settings.twilio_sms_from or svc.settings.twilio_messaging_service_sid or "local"
    companions = _take_ready(svc.queue, min(SEND_BATCH, svc.settings.deflect_sender_mps * _BATCH_SECONDS))
    try:
        statuses = send_batch(
            svc.database,
            svc.provider,
            [outbox_id, *companions],
            status_callback=lambda row_id: status_callback_url(svc.public_base, row_id),
            throttle=SenderThrottle(svc.guards.sms_guard, sender, svc.clock.time),
            clock=svc.clock,
        )
    except TransientSendError as exc:
        _give_back(svc.queue, [row_id for row_id in exc.unsent if row_id != outbox_id])
        raise
    late = [row_id for row_id, status in statuses.items() if status == "pending" and row_id != outbox_id]
    if late:  # the batch ran out of time: the next job takes them, first in line
        _give_back(svc.queue, late[1:])
        _enqueue_once(svc.queue, send_sms, late[0], f"sms-{late[0]}-late", SEND_RETRY, "send late SMS")
    return statuses[outbox_id]


def _take_ready(queue: Queue, batch: int) -> list[int]:
    """Up to `batch` - 1 rows waiting on the ready list, for this job; queues the next job when more
    are left."""
    ready, job_queued = _ready_keys(queue)
    try:
        successor, taken = queue.connection.eval(
            _TAKE_READY, 2, ready, job_queued, batch - 1, _JOB_QUEUED_TTL
        )
    except redis.RedisError as exc:  # this job still sends its own row; the sweeper the others
        log.warning("ready SMS not taken (%s): this job sends its own row only", type(exc).__name__)
        return []
    if successor:
        row_id = int(successor)
        try:
            _enqueue_once(
                queue, send_sms, row_id, f"sms-{row_id}-b", SEND_RETRY, f"send SMS of outbox {row_id}"
            )
        except redis.RedisError as exc:  # pending in the outbox: the sweeper sends it and the rest
            log.warning("the next send job (outbox %d) not queued (%s)", row_id, type(exc).__name__)
            _drop_flag(queue, job_queued)
    return [int(row_id) for row_id in taken]


def _drop_flag(queue: Queue, job_queued: str) -> None:
    try:
        queue.connection.delete(job_queued)
    except redis.RedisError:  # it expires within _JOB_QUEUED_TTL anyway
        pass


def _give_back(queue: Queue, outbox_ids: list[int]) -> None:
    """Rows a transient error left unsent, first in line for the next send job."""
    if outbox_ids:
        try:
            queue.connection.lpush(_ready_keys(queue)[0], *reversed(outbox_ids))
        except redis.RedisError:  # pending in the outbox: the sweeper sends them
            log.warning("%d unsent SMS not put back on the ready list", len(outbox_ids))


def _enqueue_once(
    queue: Queue, func: Callable[[int], Any], row_id: int, job_id: str, retry: Retry, description: str
) -> None:
    """Enqueue with a job id from the natural key: a second enqueue of the same work is a no-op."""
    try:
        queue.enqueue(
            func,
            row_id,
            job_id=job_id,
            unique=True,
            retry=retry,
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description=description,
        )
    except DuplicateJobError:
        log.info("%s: already queued", description)


def enqueue_send(queue: Queue, outbox_id: int, attempt: int = 0) -> None:
    """An accepted offer's SMS (attempt 0): a job of its own when no send job is queued, else onto the
    ready list, for the queued job to take. The sweeper's retries (attempt > 0) get a job each."""
    description = f"send SMS of outbox {outbox_id}"
    if attempt:
        _enqueue_once(queue, send_sms, outbox_id, f"sms-{outbox_id}-r{attempt}", SEND_RETRY, description)
        return
    ready, job_queued = _ready_keys(queue)
    if queue.connection.eval(_OFFER_READY, 2, ready, job_queued, outbox_id, _JOB_QUEUED_TTL):
        try:
            _enqueue_once(queue, send_sms, outbox_id, f"sms-{outbox_id}", SEND_RETRY, description)
        except redis.RedisError:
            # No job behind the flag: let the next acceptance queue one instead of joining a list
            # nobody takes (this row is pending in the outbox: the sweeper sends it).
            _drop_flag(queue, job_queued)
            raise


def look_up_line_type(number: str) -> str:
    """Ask Twilio Lookup for one number's line type and keep the answer (deflection/line_types.py);
    never raises: a failure is kept as "lookup failed", which means no offer."""
    return str(_services().guards.line_types.look_up(number))


def enqueue_line_type_lookup(queue: Queue, number: str) -> None:
    """One lookup per number at a time (the job id comes from the number, which is never logged); the
    result is not kept, so the number can be asked again once its cached answer expires."""
    from gateway.logs import mask_number

    job_id = "line-type-" + hashlib.sha256(number.encode()).hexdigest()[:24]
    try:
        queue.enqueue(
            look_up_line_type,
            number,
            job_id=job_id,
            unique=True,
            result_ttl=0,
            failure_ttl=3600,
            description=f"look up the line type of {mask_number(number)}",
        )
    except DuplicateJobError:
        pass  # already asked for


HANDOFF_RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])


def deliver_handoff(handoff_id: int) -> str:
    """Hand one chat to one agent platform; retried with backoff, then a dead letter."""
    from gateway.events import Event
    from gateway.handoff.dispatch import deliver
    from gateway.store.models import Chat, Handoff

    svc = _services()
    status = deliver(svc.database, svc.handoff_adapters, handoff_id, svc.clock.now())
    with svc.database.session() as session:
        row = session.get(Handoff, handoff_id)
        chat = session.get(Chat, row.session_id) if row and row.session_id else None
        call_sid, adapter = (chat.call_sid if chat else None), (row.adapter if row else None)
    if call_sid and status in ("delivered", "dead"):
        kind = "chat.handed_off" if status == "delivered" else "chat.handoff_dead"
        svc.call_log.record(
            call_sid, [Event(kind, {"adapter": adapter, "handoff_id": handoff_id})], svc.clock.time()
        )
    return status


def enqueue_handoff(queue: Queue, handoff_id: int, replay: int = 0) -> None:
    job_id = f"handoff-{handoff_id}" if replay == 0 else f"handoff-{handoff_id}-replay-{replay}"
    _enqueue_once(queue, deliver_handoff, handoff_id, job_id, HANDOFF_RETRY, f"hand-off {handoff_id}")


def sweep_outbox() -> int:
    """Re-enqueue outbox rows stuck without a job (Redis lost its data, a worker died)."""
    from sqlalchemy import select

    from gateway.deflection.outbox import stuck_rows
    from gateway.store.models import SmsOutbox

    svc = _services()
    ids = stuck_rows(svc.database, svc.clock.now())
    with svc.database.session() as session:
        attempts = (
            dict(session.execute(select(SmsOutbox.id, SmsOutbox.attempts).where(SmsOutbox.id.in_(ids))).all())
            if ids
            else {}
        )
    for outbox_id in ids:
        enqueue_send(svc.queue, outbox_id, attempt=attempts.get(outbox_id, 0) + 1)
    if ids:
        log.warning("outbox sweeper re-enqueued %d stuck messages", len(ids))
    return len(ids)


def flush_events() -> int:
    """Replay call events that could not be written to the database when they happened."""

    svc = _services()
    return svc.call_log.flush_pending()


REPORTS_LOCK = "deflect:reports:fold"


def fold_reports() -> int:
    """Fold the call events stored since the last fold into the reports' facts and sums. One fold at
    a time (redis-py's lock, which expires should its worker die and is released only by its
    holder); returns how many events were read."""
    svc = _services()
    lock = svc.redis.lock(REPORTS_LOCK, timeout=300, blocking=False)
    if not lock.acquire():
        return 0  # another worker is folding; the next run takes what is left
    try:
        return sum(done.events for done in svc.reports.refresh())
    finally:
        lock.release()


def replay_parked_webhooks() -> int:
    """Messaging webhooks that arrived while the database was down, handled now."""
    from gateway.deflection.outbox import apply_status
    from gateway.handoff.inbound import InboundChat
    from gateway.messaging.providers import StatusUpdate
    from gateway.store.parked import replay

    svc = _services()

    def status(params: dict[str, Any], at: float) -> None:
        update = StatusUpdate.from_twilio(params["form"])
        when = datetime.fromtimestamp(at, UTC)
        apply_status(svc.database, svc.call_log, int(params["outbox_id"]), update, when)

    def inbound(params: dict[str, Any], at: float) -> None:
        svc.inbound.receive(InboundChat.from_twilio(params["form"]), datetime.fromtimestamp(at, UTC))

    return replay(svc.redis, {"status": status, "inbound": inbound})


def expire_chats() -> int:
    """Chats whose link and reference have run out become `expired` (an event each, for reports)."""
    from gateway.deflection import chats
    from gateway.events import Event

    svc = _services()
    with svc.database.session() as session:
        expired = chats.expire_chats(session, svc.clock.now())
    for chat_id, call_sid in expired:
        svc.call_log.record(call_sid, [Event("session.expired", {"session_id": chat_id})], svc.clock.time())
    return len(expired)


@dataclass(frozen=True)
class Periodic:
    name: str
    func: Callable[[], Any]
    every_seconds: int


PERIODIC = (
    Periodic("sweep_outbox", sweep_outbox, 30),
    Periodic("flush_events", flush_events, 15),
    Periodic("fold_reports", fold_reports, 10),
    Periodic("replay_parked_webhooks", replay_parked_webhooks, 15),
    Periodic("expire_chats", expire_chats, 300),
)
