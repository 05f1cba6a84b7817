"""The fold, on events stored as the gateway stores them (CallLog): facts made once, sums that always
equal their facts, late and out-of-order events, re-contact both ways, ids committed out of order."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from gateway.clock import ManualClock
from gateway.events import Event
from gateway.reporting.facts import SUM_COLUMNS, Fact, contribution
from gateway.reporting.projector import CURSOR, GAP_PATIENCE
from gateway.store.call_log import event_rows
from gateway.store.models import CallEvent, CallFact, ReportCursor, report_hours

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALLER = "+79161234567"


def _sid(n: int) -> str:
    return f"CA{n:032x}"


def _call(log: Any, sid: str, at: datetime, caller: str | None = CALLER, queue: bool = True) -> None:
    """A call's start (its calls row) and, when it reaches a queue, its enqueue event."""
    log.record(
        sid,
        [Event("call.started", {"flow_id": "ru-bank-support", "flow_version": 1})],
        at.timestamp(),
        call={
            "caller": caller,
            "called": "+74950000000",
            "flow_id": "ru-bank-support",
            "flow_version": 1,
            "locale": "ru-RU",
            "started_at": at,
        },
    )
    if queue:
        log.record(
            sid, [Event("queue.enqueued", {"step": "cards_queue", "queue": "bank-cards"})], at.timestamp() + 5
        )


def _deflect(log: Any, sid: str, at: datetime) -> None:
    """Offered at 45 s, accepted, consented, SMS taken, the caller leaves the queue."""
    s = at.timestamp()
    log.record(sid, [Event("offer.played", {"queue": "bank-cards", "number": 1, "position": 3})], s + 45)
    log.record(sid, [Event("offer.accepted", {"queue": "bank-cards"})], s + 48)
    log.record(sid, [Event("consent.granted", {"keyed_number": None})], s + 52)
    log.record(sid, [Event("sms.sent", {"outbox_id": 1, "status": "queued", "error_code": None})], s + 54)
    log.record(
        sid, [Event("queue.result", {"result": "leave", "deflected": True, "waited_seconds": 55})], s + 60
    )


def _sums(app: Any) -> dict[str, int]:
    with app.extensions["deflect"].database.session() as session:
        row = session.execute(select(*[report_hours.c[n] for n in SUM_COLUMNS])).all()
    total: Counter[str] = Counter()
    for r in row:
        total.update({n: int(getattr(r, n)) for n in SUM_COLUMNS})
    return dict(total)


def _facts(app: Any) -> dict[str, Fact]:
    with app.extensions["deflect"].database.session() as session:
        return {
            row.call_sid: Fact.from_values({c.key: getattr(row, c.key) for c in CallFact.__table__.columns})
            for row in session.scalars(select(CallFact))
        }


def _expected_sums(app: Any) -> dict[str, int]:
    windows = app.extensions["deflect"].reports.windows
    total: Counter[str] = Counter()
    for fact in _facts(app).values():
        total.update(contribution(fact, windows))
    return {n: total.get(n, 0) for n in SUM_COLUMNS}


def _fold(app: Any) -> None:
    list(app.extensions["deflect"].reports.refresh())


def test_the_hours_sums_always_equal_the_sum_of_their_facts(app: Any, clock: ManualClock) -> None:
    log = app.extensions["deflect"].call_log
    _call(log, _sid(1), T0)
    _fold(app)
    _deflect(log, _sid(1), T0)
    _call(log, _sid(2), T0 + timedelta(minutes=70))  # another hour
    _fold(app)
    # The SMS is delivered, the link clicked (the fact moves to the whatsapp slice), the chat starts.
    s = T0.timestamp()
    log.record(
        _sid(1), [Event("sms.status", {"outbox_id": 1, "status": "delivered", "error_code": None})], s + 70
    )
    log.record(_sid(1), [Event("link.clicked", {"channel": "whatsapp", "first": True})], s + 300)
    log.record(_sid(1), [Event("chat.started", {"channel": "whatsapp", "match": "link"})], s + 320)
    _fold(app)
    _fold(app)  # nothing new: nothing changes
    sums = _sums(app)
    assert sums == _expected_sums(app)
    assert sums["calls"] == 2
    assert (sums["offered"], sums["accepted"], sums["consented"], sums["deflected"]) == (1, 1, 1, 1)
    assert (sums["sms_accepted"], sums["sms_delivered"], sums["clicked"], sums["chat_started"]) == (
        1,
        1,
        1,
        1,
    )
    assert sums["to_sms_04"] == 1  # 6 s from the key press to the SMS: the (5, 10] bucket, the 5th
    fact = _facts(app)[_sid(1)]
    assert (fact.channel, fact.matched, fact.outcome, fact.waited_seconds) == (
        "whatsapp",
        "link",
        "deflected",
        55,
    )


def test_a_call_whose_enqueue_comes_late_is_folded_from_all_its_events(app: Any) -> None:
    """The enqueue webhook's write waited in Redis while later ones reached the database: the offer
    events are read first, with no fact to fold into; the fact is made when the enqueue arrives."""
    log = app.extensions["deflect"].call_log
    _call(log, _sid(3), T0, queue=False)
    _deflect(log, _sid(3), T0)
    _fold(app)
    assert _facts(app) == {}
    log.record(
        _sid(3), [Event("queue.enqueued", {"step": "cards_queue", "queue": "bank-cards"})], T0.timestamp() + 5
    )
    _fold(app)
    fact = _facts(app)[_sid(3)]
    assert fact.offers == 1 and fact.consented_at is not None and fact.outcome == "deflected"
    assert _sums(app) == _expected_sums(app)
    assert _sums(app)["deflected"] == 1


def test_a_call_back_counts_against_net_deflection_whichever_is_folded_first(app: Any) -> None:
    log = app.extensions["deflect"].call_log
    # Deflected at T0; the same number calls again 2 h later (within 24 h), without reaching a queue.
    _call(log, _sid(4), T0)
    _deflect(log, _sid(4), T0)
    _fold(app)
    _call(log, _sid(5), T0 + timedelta(hours=2), queue=False)
    _fold(app)
    # Another number: its call back comes 3 days later (within 7 d only), and is stored BEFORE the
    # first call's enqueue (which waited in Redis): the late fact looks for the next call itself.
    other = "+79167654321"
    _call(log, _sid(6), T0, caller=other, queue=False)
    _deflect(log, _sid(6), T0)
    _call(log, _sid(7), T0 + timedelta(days=3), caller=other, queue=False)
    _fold(app)
    log.record(
        _sid(6), [Event("queue.enqueued", {"step": "cards_queue", "queue": "bank-cards"})], T0.timestamp() + 5
    )
    _fold(app)
    facts = _facts(app)
    assert facts[_sid(4)].next_call_seconds == 7200
    assert facts[_sid(6)].next_call_seconds == 3 * 86400
    sums = _sums(app)
    assert sums == _expected_sums(app)
    assert (sums["deflected"], sums["deflected_recontact_short"], sums["deflected_recontact_long"]) == (
        2,
        1,
        2,
    )
    reports = app.extensions["deflect"].reports
    day = T0.date().isoformat()
    total = reports.total(reports.period(day, day, "UTC")).deflection
    assert (total.gross_rate, total.net_short_rate, total.net_long_rate) == (1.0, 0.5, 0.0)


def test_an_id_committed_after_a_later_one_is_folded_when_it_appears(app: Any, clock: ManualClock) -> None:
    """PostgreSQL hands out ids before commit: the fold reads past an id whose transaction has not
    committed, keeps it as a gap, and folds it when it shows; a gap never filled is dropped later."""
    log = app.extensions["deflect"].call_log
    _call(log, _sid(8), T0)
    database = app.extensions["deflect"].database
    with database.session() as session:
        top = session.scalar(select(CallEvent.id).order_by(CallEvent.id.desc()).limit(1))
        late = event_rows([Event("offer.played", {"number": 1})], T0.timestamp() + 45, call_sid=_sid(8))[0]
        later = event_rows([Event("offer.declined", {})], T0.timestamp() + 47, call_sid=_sid(8))[0]
        for row in (late, later):
            row["at"] = datetime.fromisoformat(row["at"])
        session.execute(insert(CallEvent), [{**later, "id": top + 2}])
    _fold(app)
    with database.session() as session:
        cursor = session.get(ReportCursor, CURSOR)
        assert cursor is not None and cursor.last_id == top + 2 and str(top + 1) in cursor.gaps
    assert _facts(app)[_sid(8)].declined and _facts(app)[_sid(8)].offers == 0
    with database.session() as session:
        session.execute(insert(CallEvent), [{**late, "id": top + 1}])
    _fold(app)
    assert _facts(app)[_sid(8)].offers == 1
    assert _sums(app) == _expected_sums(app)
    with database.session() as session:
        assert str(top + 1) not in session.get(ReportCursor, CURSOR).gaps
    # A gap nobody fills (a rolled-back transaction) is forgotten after GAP_PATIENCE.
    with database.session() as session:
        session.execute(insert(CallEvent), [{**later, "id": top + 4, "event_id": "x" * 32}])
    _fold(app)
    clock.advance(GAP_PATIENCE.total_seconds() + 1)
    _fold(app)
    with database.session() as session:
        assert str(top + 3) not in session.get(ReportCursor, CURSOR).gaps


def test_days_are_cut_at_the_report_zone_s_midnight(app: Any) -> None:
    """22:30 UTC on 2 March is 01:30 on 3 March in Moscow (UTC+3)."""
    log = app.extensions["deflect"].call_log
    _call(log, _sid(9), datetime(2026, 3, 2, 22, 30, tzinfo=UTC))
    _fold(app)
    reports = app.extensions["deflect"].reports
    assert reports.total(reports.period("2026-03-02", "2026-03-02", "UTC")).sums["calls"] == 1
    assert reports.total(reports.period("2026-03-02", "2026-03-02", "Europe/Moscow")).sums["calls"] == 0
    by_day = reports.slices(reports.period("2026-03-02", "2026-03-03", "Europe/Moscow"), "day")
    assert [(s.key, s.sums["calls"]) for s in by_day] == [("2026-03-02", 0), ("2026-03-03", 1)]
    by_hour = reports.slices(reports.period("2026-03-03", "2026-03-03", "Europe/Moscow"), "hour")
    assert [s.key for s in by_hour if s.sums["calls"]] == ["01"]


def test_the_worker_folds_one_at_a_time(app: Any) -> None:
    """`fold_reports` is the scheduler's periodic job: it folds what is new, and does nothing while
    another worker holds the lock (two folds at once would add the same change twice)."""
    from gateway.jobs import REPORTS_LOCK, fold_reports, running_with

    services = app.extensions["deflect"]
    _call(services.call_log, _sid(10), T0)
    services.redis.set(REPORTS_LOCK, "another worker", ex=60)
    with running_with(services):
        assert fold_reports() == 0
    assert _facts(app) == {}
    services.redis.delete(REPORTS_LOCK)
    with running_with(services):
        assert fold_reports() == 2  # the call's start and its enqueue
    assert set(_facts(app)) == {_sid(10)}
    assert services.redis.get(REPORTS_LOCK) is None
