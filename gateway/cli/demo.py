"""`deflect demo seed`: realistic synthetic calls for the reports (gateway.reporting.demo). The
database only, no Redis."""

from __future__ import annotations

import sys
import time

import click

from gateway.cli import base


@click.group()
def demo() -> None:
    """Demo data."""


@demo.command("seed")
@click.option("--calls", default=5000, show_default=True, type=click.IntRange(min=1), help="how many calls")
@click.option(
    "--days", default=30, show_default=True, type=click.IntRange(min=1), help="spread over the last D days"
)
@click.option("--seed", "seed_", default=1, show_default=True, type=int, help="the same seed, the same calls")
@click.option(
    "--facts-only/--events",
    default=None,
    help="facts only: fold each call in memory and bulk-write its calls / call_facts rows and the hours' "
    "sums, WITHOUT its events (a million calls are ten million event rows; the reports' figures are the "
    "same, but `deflect report rebuild` would drop these calls). --events: store every event and run "
    "the real fold. Default: events up to 50,000 calls, facts only above.",
)
@click.option("--force", is_flag=True, help="seed even a database that holds real calls (they would mix)")
@click.option("--json", "as_json", is_flag=True, help="print what was written as JSON (no progress bar)")
def seed(calls: int, days: int, seed_: int, facts_only: bool | None, force: bool, as_json: bool) -> None:
    """Write realistic synthetic calls of the shipped flows over the last days, for the reports.

    Refuses a database that already holds real calls unless --force: demo data would be mixed into
    their reports. Demo calls' SIDs start with CA0000000000.
    """
    from gateway.clock import SystemClock
    from gateway.reporting.demo import EVENTS_LIMIT, RealCallsPresent
    from gateway.reporting.demo import seed as write
    from gateway.services import reports

    database = base.database()
    service = reports(base.settings(), database, SystemClock())
    only = calls > EVENTS_LIMIT if facts_only is None else facts_only
    began = time.monotonic()
    with click.progressbar(
        length=calls,
        label=f"seeding {calls:,} calls ({'facts only' if only else 'events, then the fold'})",
        file=sys.stderr,
        hidden=as_json,
    ) as bar:
        try:
            done = write(service, calls, days, seed_, only, force, progress=bar.update)
        except RealCallsPresent as exc:
            raise click.ClickException(str(exc)) from None
    seconds = round(time.monotonic() - began, 1)
    if as_json:
        base.echo_json({**done.as_json(), "days": days, "seed": seed_, "seconds": seconds})
        return
    mode = "facts only (no events)" if done.facts_only else f"{done.events:,} events, folded"
    click.echo(f"seeded {done.calls:,} demo calls over {days} days in {seconds} s: {mode}")
    click.echo(f"  {done.facts:,} facts, {done.report_hours:,} report_hours rows")
    click.echo("  outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(done.outcomes.items())))
