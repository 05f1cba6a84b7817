"""`deflect messaging pause|resume|status`."""

from __future__ import annotations

from typing import Any

import click

from gateway.cli import base


@click.group()
def messaging() -> None:
    """The manual switch for offers (e.g. while the chat team is overloaded), and range pauses."""


def _guards() -> Any:
    """The switch is recorded in the database and mirrored in the running gateway's Redis (REDIS_URL,
    or `deflect serve`'s own); range pauses live in that Redis."""
    return base.build_app().extensions["deflect"].guards


def _switch_json(state: Any) -> dict[str, Any]:
    return {
        "paused": state.paused,
        "by": state.actor,
        "at": state.at.isoformat() if state.at else None,
        "reason": state.reason,
    }


def _switch_line(state: Any) -> str:
    if state.actor is None:
        return "on (never paused)"
    when = f"{state.at:%Y-%m-%d %H:%M} UTC by {state.actor}"
    why = f": {state.reason}" if state.reason else ""
    return f"PAUSED since {when}{why} (deflect messaging resume)" if state.paused else f"on since {when}{why}"


_by = click.option("--by", default=None, help="who is changing it (default: cli:<login>), for the audit log")
_json = click.option("--json", "as_json", is_flag=True, help="print the switch as JSON")


@messaging.command("pause")
@click.option("--reason", "-m", required=True, help="why (shown by status, kept in the audit log)")
@_by
@_json
def pause(reason: str, by: str | None, as_json: bool) -> None:
    """Stop offering SMS links to callers, in every process within a second; recorded with who, when
    and why (kept across Redis restarts)."""
    state = _guards().switch.set(True, actor=base.actor(by), reason=reason.strip())
    if as_json:
        base.echo_json(_switch_json(state))
    else:
        click.echo(f"offers {_switch_line(state)}")


@messaging.command("resume")
@click.option(
    "--range",
    "range_",
    metavar="RANGE",
    help="lift one range pause instead (a prefix or destination code, as `status` shows it)",
)
@click.option("--reason", "-m", default="", help="why (kept in the audit log)")
@_by
@_json
def resume(range_: str | None, reason: str, by: str | None, as_json: bool) -> None:
    """Offer SMS links again (or, with --range, to one paused range again)."""
    guards = _guards()
    if range_:
        if not guards.lift(range_.strip(), actor=base.actor(by), reason=reason.strip()):
            raise click.ClickException(f"no pause of range {range_} (see deflect messaging status)")
        if as_json:
            base.echo_json({"range": range_.strip(), "lifted": True})
        else:
            click.echo(f"offers to {range_} resumed")
        return
    state = guards.switch.set(False, actor=base.actor(by), reason=reason.strip())
    if as_json:
        base.echo_json(_switch_json(state))
    else:
        click.echo(f"offers {_switch_line(state)}")


@messaging.command("status")
@click.option(
    "--json", "as_json", is_flag=True, help="the same for a script: the switch, SMS today, range pauses"
)
def status(as_json: bool) -> None:
    """Whether offers are paused (by whom, when, why), today's SMS budget, and the ranges an SMS
    pumping trip paused."""
    from datetime import UTC, datetime

    services = base.build_app().extensions["deflect"]
    guards, now = services.guards, services.clock.time()
    switch, pauses = guards.switch.state(), guards.range_pauses()
    limit = guards.sms_guard.limits.per_day
    sent = limit - guards.sms_guard.budget_left(now)

    def at(moment: float) -> datetime:
        return datetime.fromtimestamp(moment, UTC)

    if as_json:
        base.echo_json(
            {
                "paused": switch.paused,
                "switch": _switch_json(switch),
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
    click.echo(f"offers         {_switch_line(switch)}")
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
