"""Reports (every signed-in role): a period of whole local days in a time zone, a slice and filters;
the headline figures (gross and net deflection, the offer's take rate, timings, agent minutes avoided,
savings), the funnel, the trend over days, one row per slice value and why offers were not made.
The same period and filters download as CSV, one row per call, callers cut to their last four digits.

Every figure comes from `Services.reports`, as the CLI's and the API's do. The charts are drawn by
`static/reports.js` (Chart.js, shipped in `static/vendor/`) from a JSON block in the page: the
console's CSP allows no inline script."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template, request

from gateway.reporting import export
from gateway.reporting.queries import BadPeriod, Period
from gateway.reporting.service import Reports
from gateway.users.roles import Permission
from gateway.web.admin.base import MenuItem, area, requires
from gateway.web.admin.i18n import gettext as _
from gateway.web.context import services

bp = area("reports", __name__)
MENU = MenuItem("admin_reports.index", "reports.menu", Permission.VIEW)

DEFAULT_DAYS = 7  # the last week, today included
DEFAULT_SLICE = "queue"
# What the slice table can show a row per (`gateway.reporting.queries.SLICES`; refusals have their own
# section).
SLICES = ("queue", "version", "channel", "locale", "variant", "day", "hour")
FILTERS = ("queue", "flow_id", "flow_version", "channel", "locale")
ZONES = (
    "Europe/Moscow",
    "Europe/Kaliningrad",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Asia/Almaty",
    "Asia/Aqtobe",
    "UTC",
)
FIELD_LENGTH = 64


@dataclass
class Query:
    """The form as typed (to show it again), and what it asks for when it is valid."""

    typed: dict[str, str]
    problems: list[str] = field(default_factory=list)  # text keys
    period: Period | None = None
    by: str = DEFAULT_SLICE
    filters: dict[str, Any] = field(default_factory=dict)

    def args(self) -> dict[str, str]:
        """The query string that asks for the same report (the CSV link)."""
        return {k: v for k, v in self.typed.items() if v}


@bp.get("/")
@requires(Permission.VIEW)
def index() -> Any:
    reports = services().reports
    query = _query(reports)
    values = reports.slice_values()
    context: dict[str, Any] = {
        "query": query,
        "typed": query.typed,
        "values": values,
        "slices": SLICES,
        "zones": ZONES if query.typed["tz"] in ZONES else (query.typed["tz"], *ZONES),
        "folded_until": _local(reports.folded_until(), query),
        "pct": percent,
        "secs": seconds,
        "money": money,
        "number": number,
    }
    if query.period is None:
        return render_template("admin/reports/index.html", **context), 400
    total = reports.total(query.period, **query.filters)
    days = reports.slices(query.period, "day", **query.filters)
    context.update(
        total=total,
        rows=days if query.by == "day" else reports.slices(query.period, query.by, **query.filters),
        refusals=reports.refusals(query.period, **query.filters),
        chart=_chart(total, days),
        days=days,
    )
    return render_template("admin/reports/index.html", **context)


@bp.get("/export.csv")
@requires(Permission.VIEW)
def export_csv() -> Any:
    reports = services().reports
    query = _query(reports)
    if query.period is None:
        problems = ", ".join(_(key) for key in query.problems)
        return Response(problems + "\n", 400, mimetype="text/plain")
    period = query.period
    name = f"calls-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    return Response(
        _csv_lines(reports, period, query.filters),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_lines(reports: Reports, period: Period, filters: dict[str, Any]) -> Iterator[str]:
    """The API's export (`export.csv_lines`), streamed, after a BOM: spreadsheets then read UTF-8."""
    yield "\ufeff"
    yield from export.csv_lines(reports.facts(period, **filters), period.tz)


# -- the form -------------------------------------------------------------------------------------


def _query(reports: Reports) -> Query:
    args = request.args
    tz = (args.get("tz") or reports.timezone).strip()[:FIELD_LENGTH]
    typed = {
        "from": args.get("from", "").strip()[:FIELD_LENGTH],
        "to": args.get("to", "").strip()[:FIELD_LENGTH],
        "tz": tz,
        "by": (args.get("by") or DEFAULT_SLICE).strip()[:FIELD_LENGTH],
        **{name: args.get(name, "").strip()[:FIELD_LENGTH] for name in FILTERS},
    }
    query = Query(typed, by=typed["by"])
    try:
        zone = ZoneInfo(tz)
    except Exception:  # ZoneInfoNotFoundError, or ValueError for a malformed name
        query.problems.append("reports.bad_tz")
        zone = ZoneInfo(reports.timezone)
    today = reports.clock.now().astimezone(zone).date()
    typed["from"] = typed["from"] or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    typed["to"] = typed["to"] or today.isoformat()
    first, last = _day(typed["from"]), _day(typed["to"])
    if first is None:
        query.problems.append("reports.bad_from")
    if last is None:
        query.problems.append("reports.bad_to")
    if first and last and last < first:
        query.problems.append("reports.bad_order")
    if typed["by"] not in SLICES:
        query.problems.append("reports.bad_by")
    if typed["flow_version"] and not typed["flow_version"].isdigit():
        query.problems.append("reports.bad_version")
    query.filters = {name: typed[name] for name in FILTERS if typed[name] and name != "flow_version"}
    if typed["flow_version"].isdigit():
        query.filters["flow_version"] = int(typed["flow_version"])
    if not query.problems:
        try:
            query.period = reports.period(typed["from"], typed["to"], tz)
        except BadPeriod:  # what the checks above do not cover: a period over ten years
            query.problems.append("reports.bad_period")
    return query


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _local(moment: datetime | None, query: Query) -> str | None:
    if moment is None:
        return None
    zone = query.period.tz if query.period else ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


# -- what the page shows ---------------------------------------------------------------------------


def _chart(total: Any, days: list[Any]) -> dict[str, Any]:
    """What reports.js draws: the funnel's counts and the calls, deflected and net per day."""
    return {
        "funnel": {
            "labels": [_("reports.step." + step.name) for step in total.funnel],
            "counts": [step.count for step in total.funnel],
            "label": _("reports.calls"),
        },
        "trend": {
            "labels": [day.key for day in days],
            "series": [
                {"label": _("reports.calls"), "data": [day.deflection.calls for day in days]},
                {"label": _("reports.deflected"), "data": [day.deflection.deflected for day in days]},
                {
                    "label": _("reports.net_named", window=total.deflection.long_window),
                    "data": [day.deflection.net_long for day in days],
                },
            ],
        },
    }


def percent(value: float | None) -> str:
    """0.4167 -> "41.7 %"; nothing to divide by -> "—" (never a made-up 0 %)."""
    return "—" if value is None else f"{value * 100:.1f} %"


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def number(value: Decimal) -> str:
    """12.000 -> "12", 7.50 -> "7.5" (never "1.2E+1")."""
    return f"{value.normalize():f}" if value else "0"


def money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}".replace(",", "\u00a0")
