"""`deflect report`: the funnel, deflection, refusals and offer experiments of a period as tables (or
--json, the API's shapes), the fold run now (`refresh`) or from scratch (`rebuild`), and the fact rows
exported as CSV or XLSX. The database only, no Redis: they work with the gateway up or down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import click

from gateway.cli import base


def _reports() -> Any:
    from gateway.clock import SystemClock
    from gateway.services import reports

    return reports(base.settings(), base.database(), SystemClock())


def _request(reports: Any, params: dict[str, Any]) -> Any:
    """The request from the command's options, or a usage error (exit 2) naming the option that is
    wrong."""
    from gateway.reporting.render import BadParameter, parse_request

    named = {"from": params.get("start"), "to": params.get("end")}
    named |= {k: params.get(k) for k in ("tz", "by", "queue", "flow", "version", "channel", "locale")}
    text = {name: (None if value is None else str(value)) for name, value in named.items()}
    try:
        return parse_request(reports, text)
    except BadParameter as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{exc.name}") from None


def _period_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--from", "start", required=True, metavar="DATE", help="first day, YYYY-MM-DD"),
        click.option("--to", "end", required=True, metavar="DATE", help="last day (included), YYYY-MM-DD"),
        click.option(
            "--tz", default=None, metavar="ZONE", help="the days' time zone (DEFLECT_REPORT_TIMEZONE)"
        ),
        click.option("--queue", default=None),
        click.option("--flow", default=None, help="a flow id"),
        click.option("--version", default=None, help="a flow version (with --flow)"),
        click.option("--channel", default=None, help="whatsapp, telegram, viber"),
        click.option("--locale", default=None),
    ]
    for option in reversed(options):
        command = option(command)
    return command


_by = click.option(
    "--by",
    default=None,
    help="one row per value of: day, hour, queue, version, channel, locale, variant",
)
_json = click.option("--json", "as_json", is_flag=True, help="print JSON (the API's shapes)")


@click.group()
def report() -> None:
    """Reports on deflected calls (see the README's Reports section for the definitions)."""


def _show(name: str, kwargs: dict[str, Any], as_json: bool) -> None:
    from gateway.reporting import render

    reports = _reports()
    request = _request(reports, kwargs)
    if as_json:
        base.echo_json(render.JSON[name](reports, request))
        return
    if name == "refusals":
        click.echo(render.refusals_table(reports.refusals(request.period, **request.filters)))
        return
    if name == "experiments":
        click.echo(render.experiments_table(reports.experiments(request.period, **request.filters)))
        return
    slices = reports.slices(request.period, request.by, **request.filters)
    click.echo((render.funnel_table if name == "funnel" else render.deflection_table)(slices))
    _note_fold(reports)


def _note_fold(reports: Any) -> None:
    folded = reports.folded_until()
    when = folded.strftime("%Y-%m-%d %H:%M:%S UTC") if folded else "never: run `deflect report refresh`"
    base.note(f"folded until {when}")


@report.command()
@_period_options
@_by
@_json
def funnel(as_json: bool, **kwargs: Any) -> None:
    """Calls in queue, offered, accepted, consented, SMS accepted and delivered, link clicked, chat
    started, handed off; each step with its share of the step before."""
    _show("funnel", kwargs, as_json)


@report.command()
@_period_options
@_by
@_json
def deflection(as_json: bool, **kwargs: Any) -> None:
    """Gross and net deflection (the re-contact windows), timings, agent minutes avoided, savings."""
    _show("deflection", kwargs, as_json)


@report.command()
@_period_options
@_json
def refusals(as_json: bool, **kwargs: Any) -> None:
    """Why callers were not offered a link, with the calls each reason stopped, most first."""
    _show("refusals", kwargs, as_json)


@report.command()
@_period_options
@_json
def experiments(as_json: bool, **kwargs: Any) -> None:
    """Offer experiments: each variant's calls, take rate and net deflection with 95 % intervals, and
    its difference from the baseline (the first variant by name), or "not yet significant"."""
    _show("experiments", kwargs, as_json)


def _folding(batches: Iterator[Any]) -> tuple[int, int]:
    """Run the fold to its end with a progress line per batch; (events read, facts changed)."""
    events = facts = 0
    for done in batches:
        events += done.events
        facts += done.facts
        base.note(f"folded {events} events into {facts} facts{' ...' if done.behind else ''}")
    return events, facts


@report.command()
def refresh() -> None:
    """Fold the call events not folded yet into the reports now (the worker does it every 10 s)."""
    events, facts = _folding(_reports().refresh())
    click.echo(f"folded {events} events into {facts} facts")


@report.command()
@click.option("--yes", is_flag=True, help="do not ask")
def rebuild(yes: bool) -> None:
    """Forget every fact and sum and fold every event again: after DEFLECT_RECONTACT_WINDOWS changed.
    Reports show less than they should until it ends."""
    if not yes:
        click.confirm("Forget every report fact and sum and fold all the events again?", abort=True)
    events, facts = _folding(_reports().rebuild())
    click.echo(f"rebuilt: {events} events into {facts} facts")


@report.command()
@_period_options
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False), default=None, help="a file (default: stdout, CSV only)"
)
def export(fmt: str, output: str | None, **kwargs: Any) -> None:
    """Every call of the period, one row each (the caller masked to its last four digits)."""
    from gateway.reporting.export import csv_lines, write_xlsx

    reports = _reports()
    request = _request(reports, kwargs)
    facts = reports.facts(request.period, **request.filters)
    if fmt == "xlsx":
        if output is None:
            raise click.UsageError("--format xlsx needs --output FILE (a workbook is not text)")
        with open(output, "wb") as out:
            count = write_xlsx(facts, request.period.tz, out)
        base.note(f"{count} calls written to {output}")
        return
    count = -1
    with click.open_file(output or "-", "w", encoding="utf-8") as out:  # "-": stdout, left open
        for count, line in enumerate(csv_lines(facts, request.period.tz)):  # noqa: B007
            out.write(line)
    if output:
        base.note(f"{count} calls written to {output}")
