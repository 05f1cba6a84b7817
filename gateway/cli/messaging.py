"""`deflect templates check` and `deflect messaging pause|resume|status`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gateway.cli import base


@click.group()
def templates() -> None:
    """SMS texts."""


@templates.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--max-segments", type=int, default=None, help="warn above this (default DEFLECT_MAX_SEGMENTS)")
def check(path: Path | None, max_segments: int | None) -> None:
    """Render every template with sample values: encoding, length, segments, warnings."""
    from gateway.messaging.templates import check_templates

    settings = base.settings()
    reports = check_templates(
        path or settings.deflect_templates_dir, max_segments=max_segments or settings.deflect_max_segments
    )
    failed = False
    for report in reports:
        head = f"{report.locale}/{report.name}"
        if report.errors:
            failed = True
            for error in report.errors:
                click.echo(f"ERROR    {head}: {error}", err=True)
            continue
        info = report.sample.segments if report.sample else None
        figures = (
            (
                f"{info.encoding}, {info.units} chars, {info.segments} segment"
                f"{'s' if info.segments != 1 else ''}"
            )
            if info
            else ""
        )
        click.echo(f"{'WARNING' if report.warnings else 'ok':8} {head}: {figures}")
        for warning in report.warnings:
            click.echo(f"         - {warning}")
    if failed:
        sys.exit(1)


@click.group()
def messaging() -> None:
    """The manual switch for offers (e.g. while the chat team is overloaded), and range pauses."""


def _guards() -> Any:
    """The switch lives in the running gateway's Redis (REDIS_URL, or `deflect serve`'s own)."""
    return base.build_app().extensions["deflect"].guards


@messaging.command("pause")
def pause() -> None:
    """Stop offering SMS links to callers (takes effect at once, in every process)."""
    _guards().pause(True)
    click.echo("offers paused")


@messaging.command("resume")
@click.option(
    "--range",
    "range_",
    metavar="RANGE",
    help="lift one range pause instead (a prefix or destination code, as `status` shows it)",
)
def resume(range_: str | None) -> None:
    """Offer SMS links again (or, with --range, to one paused range again)."""
    if range_:
        if not _guards().lift(range_.strip()):
            raise click.ClickException(f"no pause of range {range_} (see deflect messaging status)")
        click.echo(f"offers to {range_} resumed")
        return
    _guards().pause(False)
    click.echo("offers resumed")


@messaging.command("status")
@click.option(
    "--json", "as_json", is_flag=True, help="the same for a script: paused, SMS today, range pauses"
)
def status(as_json: bool) -> None:
    """Whether offers are paused, today's SMS budget, and the ranges an SMS pumping trip paused."""
    from datetime import UTC, datetime

    services = base.build_app().extensions["deflect"]
    guards, now = services.guards, services.clock.time()
    paused, pauses = guards.paused(), guards.range_pauses()
    limit = guards.sms_guard.limits.per_day
    sent = limit - guards.sms_guard.budget_left(now)

    def at(moment: float) -> datetime:
        return datetime.fromtimestamp(moment, UTC)

    if as_json:
        base.echo_json(
            {
                "paused": paused,
                "sms_today": sent,
                "sms_daily_budget": limit,
                "range_pauses": [
                    {
                        **pause.__dict__,
                        "since": at(pause.since).isoformat(),
                        "until": at(pause.until).isoformat(),
                    }
                    for pause in pauses
                ],
            }
        )
        return
    click.echo(f"offers         {'PAUSED (deflect messaging resume)' if paused else 'on'}")
    click.echo(f"SMS today      {sent} of {limit} (UTC day)")
    if not pauses:
        click.echo("range pauses   none")
        return
    click.echo(f"range pauses   {len(pauses)} (SMS pumping trips; each lifts itself at 'until')")
    for pause in pauses:
        click.echo(
            f"  {pause.kind:6} {pause.range:14} {pause.count} SMS within {pause.window_seconds} s, "
            f"since {at(pause.since):%Y-%m-%d %H:%M UTC}, until {at(pause.until):%Y-%m-%d %H:%M UTC}"
        )
        click.echo(f"         lift it: deflect messaging resume --range {pause.range}")
