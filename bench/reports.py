"""Benchmark: every report query on a million calls, on SQLite and on PostgreSQL, must answer in < 1 s.

    python -m bench.reports [--calls 1000000] [--days 90] [--postgres URL] [--no-postgres | --no-sqlite]
                            [--json]

Seeds the calls with `deflect demo seed`'s facts-only mode (gateway/reporting/demo.py: each call
folded in memory with the projector's functions; calls, call_facts and report_hours written in bulk,
no events) into a fresh SQLite file and into PostgreSQL (default database bench_rseed, made if
missing; its tables are dropped and made again). Then times each query of `Reports` (the total, the
slices by every dimension, the refusals, with a filter too) over the whole period and over its last
7 days, 3 runs each (median and max). Exits 1 if any run takes 1 s or more.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.engine import make_url

from gateway.clock import SystemClock
from gateway.reporting import demo
from gateway.reporting.facts import Windows
from gateway.reporting.figures import Costs
from gateway.reporting.queries import SLICES
from gateway.reporting.service import Reports
from gateway.store.db import Database
from gateway.store.models import CallFact

LIMIT = 1.0  # seconds
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/bench_rseed"


def reports_on(database: Database) -> Reports:
    costs = Costs(agent_minute=Decimal("30"), sms_segment=Decimal("3"), handle_minutes=Decimal("6"))
    return Reports(database, SystemClock(), Windows(), costs, "Europe/Moscow")


def fresh_postgres(url: str) -> Database:
    """The database, made if missing, with every table dropped, then migrated."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    database = Database(url)
    with database.engine.begin() as conn:
        found = MetaData()
        found.reflect(conn)
        found.drop_all(conn)
    database.upgrade()
    return database


def seed(reports: Reports, calls: int, days: int, label: str) -> dict[str, Any]:
    began = time.perf_counter()
    with click.progressbar(length=calls, label=f"{label}: seeding {calls:,} calls", file=sys.stderr) as bar:
        done = demo.seed(reports, calls, days, seed=1, facts_only=True, progress=bar.update)
    seconds = time.perf_counter() - began
    if reports.database.url.startswith("postgresql"):
        with reports.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with reports.database.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    with reports.database.session() as session:
        facts = session.scalar(select(func.count()).select_from(CallFact))
    rows = done.report_hours
    return {"seconds": round(seconds, 1), "calls": done.calls, "facts": facts, "report_hours": rows}


def queries(reports: Reports, days: int) -> dict[str, Callable[[], Any]]:
    today = reports.clock.now().astimezone(reports.period("2000-01-01", "2000-01-01").tz).date()
    found: dict[str, Callable[[], Any]] = {}
    for name, span in ((f"{days} d", days), ("7 d", 7)):
        period = reports.period((today - timedelta(days=span - 1)).isoformat(), today.isoformat())
        found[f"{name} total"] = lambda p=period: reports.total(p)
        for by in SLICES:
            found[f"{name} by {by}"] = lambda p=period, b=by: reports.slices(p, b)
        found[f"{name} refusals"] = lambda p=period: reports.refusals(p)
        found[f"{name} total, queue=bank-cards"] = lambda p=period: reports.total(p, queue="bank-cards")
        found[f"{name} by day, flow_id=en-support"] = lambda p=period: reports.slices(
            p, "day", flow_id="en-support"
        )
        found[f"{name} by channel, locale=ru-RU v2"] = lambda p=period: reports.slices(
            p, "channel", locale="ru-RU", flow_version=2
        )
    found["slice values (pickers)"] = reports.slice_values
    return found


def timed(reports: Reports, days: int, runs: int) -> dict[str, dict[str, float]]:
    figures = {}
    for name, query in queries(reports, days).items():
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            query()
            times.append(time.perf_counter() - began)
        figures[name] = {"median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3, help="runs of each query")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a database this bench may empty")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        engines = [] if args.no_sqlite else [("SQLite", f"sqlite:///{Path(tmp) / 'reports.sqlite3'}")]
        if not args.no_postgres:
            engines.append(("PostgreSQL", args.postgres))
        for label, url in engines:
            if url.startswith("sqlite"):
                database = Database(url)
                database.upgrade()
            else:
                database = fresh_postgres(url)
            try:
                reports = reports_on(database)
                seeded = seed(reports, args.calls, args.days, label)
                results[label] = {"seeding": seeded, "queries": timed(reports, args.days, args.runs)}
            finally:
                database.dispose()
    slow = [
        (label, name, f["max_ms"])
        for label, r in results.items()
        for name, f in r["queries"].items()
        if f["max_ms"] >= LIMIT * 1000
    ]
    if args.json:
        print(json.dumps({"results": results, "slow": slow}, indent=2))
    else:
        for label, r in results.items():
            s = r["seeding"]
            print(
                f"\n{label}: {s['calls']:,} calls over {args.days} days seeded in {s['seconds']} s "
                f"(facts only): {s['facts']:,} call_facts, {s['report_hours']:,} report_hours rows"
            )
            print(f"{'query':40} {'median ms':>10} {'max ms':>8}   ({args.runs} runs)")
            for name, f in r["queries"].items():
                print(f"{name:40} {f['median_ms']:10.1f} {f['max_ms']:8.1f}")
        print("\nevery query < 1 s" if not slow else f"\n{len(slow)} queries took 1 s or more: {slow}")
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
