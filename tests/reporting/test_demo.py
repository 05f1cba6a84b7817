"""`deflect demo seed`: demo calls written as events and folded by the real projector give the same
facts and the same sums per hour as the bulk, facts-only way; the command refuses a database with real
calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from gateway.cli import main
from gateway.clock import ManualClock
from gateway.reporting import demo
from gateway.reporting.facts import SUM_COLUMNS
from gateway.store.models import SLICE_COLUMNS, Call, CallEvent, CallFact, ReportCursor, report_hours


def _report(reports: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """report_hours (without ids) and call_facts, in a stable order."""
    columns = [report_hours.c.hour, *(report_hours.c[n] for n in (*SLICE_COLUMNS, *SUM_COLUMNS))]
    with reports.database.session() as session:
        hours = [tuple(r) for r in session.execute(select(*columns))]
        facts = [tuple(f.values()) for f in map(_fact_values, session.scalars(select(CallFact)))]
    return sorted(hours, key=repr), sorted(facts, key=repr)


class _fact_values:  # noqa: N801 - a view of a CallFact row as a plain mapping
    def __init__(self, row: CallFact) -> None:
        self.row = row

    def values(self) -> dict[str, Any]:
        return {c.key: getattr(self.row, c.key) for c in CallFact.__table__.columns}


def _forget(reports: Any) -> None:
    with reports.database.session() as session:
        for table in (report_hours, CallFact.__table__, CallEvent.__table__, Call.__table__):
            session.execute(delete(table))
        session.execute(delete(ReportCursor))


def test_both_ways_give_the_same_facts_and_sums(app: Any, clock: ManualClock) -> None:
    reports = app.extensions["deflect"].reports
    seen: list[int] = []
    events = demo.seed(reports, 400, days=14, seed=7, facts_only=False, progress=seen.append)
    assert sum(seen) == 400 and events.events > 400 * 5
    with reports.database.session() as session:
        assert session.scalar(select(func.count()).select_from(CallEvent)) == events.events
    by_events = _report(reports)
    _forget(reports)
    facts = demo.seed(reports, 400, days=14, seed=7, facts_only=True)
    with reports.database.session() as session:
        assert session.scalar(select(func.count()).select_from(CallEvent)) == 0
    assert facts.events == 0 and facts.facts == events.facts == 400
    assert _report(reports) == by_events
    hours, rows = by_events
    assert len(rows) == 400 and hours
    # Realistic: offers, acceptances, deflections, refusals and re-contacts all happen.
    today = clock.now().date()
    period = reports.period((today - timedelta(days=20)).isoformat(), (today + timedelta(days=1)).isoformat())
    total = reports.total(period).sums
    assert total["calls"] == 400
    for name in ("offered", "accepted", "consented", "sms_delivered", "clicked", "deflected", "refused"):
        assert 0 < total[name] < 400, name
    assert 0 < total["recontact_long"] and total["deflected_recontact_long"] <= total["recontact_long"]
    assert 0.4 < total["offered"] / 400 < 0.8
    assert {s.key for s in reports.slices(period, "queue")} >= {"bank-cards", "billing"}
    assert events.first is not None and events.last is not None
    assert clock.now() - timedelta(days=14) <= events.first < events.last < clock.now()


def test_the_same_seed_and_clock_give_the_same_calls(clock: ManualClock) -> None:
    one = [(c.row, c.events) for c in demo.generate(50, 7, 3, clock.now())]
    two = [(c.row, c.events) for c in demo.generate(50, 7, 3, clock.now())]
    assert one == two
    sids = [row["call_sid"] for row, _ in one]
    assert all(sid.startswith(demo.DEMO_SID_PREFIX) and len(sid) == 34 for sid in sids)
    assert all(e[2] <= clock.now() for _, events in one for e in events)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_command_prints_json_and_refuses_a_database_with_real_calls(cli_env: None, app: Any) -> None:
    seeded = run("demo", "seed", "--calls", "60", "--days", "7", "--json")
    assert seeded.exit_code == 0, seeded.output
    found = json.loads(seeded.output)
    assert found["calls"] == 60 and found["mode"] == "events" and found["facts"] == 60
    assert found["report_hours"] > 0 and found["outcomes"]
    again = run("demo", "seed", "--calls", "20", "--days", "7", "--facts-only", "--json")
    assert again.exit_code == 0, again.output  # demo data only: more may be added
    assert json.loads(again.output)["mode"] == "facts-only"
    with app.extensions["deflect"].database.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 80
        session.add(
            Call(
                call_sid="CA" + "ab" * 16,
                caller="+79161234567",
                called="+74952223344",
                flow_id="ru-bank-support",
                flow_version=1,
                locale="ru-RU",
                started_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
            )
        )
    refused = run("demo", "seed", "--calls", "10", "--json")
    assert refused.exit_code == 1
    assert "1 calls that are not demo calls" in refused.output and "--force" in refused.output
    with app.extensions["deflect"].database.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 81
    forced = run("demo", "seed", "--calls", "10", "--force", "--json")
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize("calls, days", [(0, 7), (5, 0)])
def test_nothing_is_seeded_from_nothing(app: Any, calls: int, days: int) -> None:
    with pytest.raises(ValueError):
        demo.seed(app.extensions["deflect"].reports, calls, days=days)
