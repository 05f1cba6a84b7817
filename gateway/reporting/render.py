"""What a report request asks (period, slice, filters), checked once, and the report as JSON and as a
readable table. The CLI (`deflect report`) and the API (`/api/v1/reports`) both call these, so their
--json output and their JSON answers are the same shapes, built by the same code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.reporting.figures import FUNNEL
from gateway.reporting.queries import BadPeriod, Period
from gateway.reporting.service import Experiment, Reports, Slice
from gateway.reporting.stats import Comparison, Interval

REPORTS = ("funnel", "deflection", "refusals", "experiments")
# What a report may be sliced by (`queries.SLICES` less refusal, which is its own report).
BY = ("day", "hour", "queue", "version", "channel", "locale", "variant")
# The request's filter parameters and the `queries.FILTERS` each one is.
FILTER_PARAMETERS = {
    "queue": "queue",
    "flow": "flow_id",
    "version": "flow_version",
    "channel": "channel",
    "locale": "locale",
}
EMPTY = "—"  # a rate without a denominator


class BadParameter(ValueError):
    """A request parameter that cannot be used: `name` says which (the API's 400, the CLI's exit 2)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Request:
    period: Period
    by: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "tz": self.period.tz.key,
            "by": self.by,
            "filters": {name: self.filters[f] for name, f in FILTER_PARAMETERS.items() if f in self.filters},
        }


def parse_request(reports: Reports, params: Mapping[str, str | None]) -> Request:
    """A request from text parameters (from, to, tz, by and the filters); BadParameter names the first
    that is wrong. Dates are whole local days in `tz` (default DEFLECT_REPORT_TIMEZONE)."""
    start, end = params.get("from"), params.get("to")
    for name, value in (("from", start), ("to", end)):
        if not value:
            raise BadParameter(name, "required, a date YYYY-MM-DD")
    assert start and end
    tz = params.get("tz") or None
    try:
        reports.period("2000-01-01", "2000-01-01", tz)
    except BadPeriod as exc:
        raise BadParameter("tz", str(exc)) from None
    for name, value in (("from", start), ("to", end)):
        try:
            reports.period(value, value, tz)
        except BadPeriod:
            raise BadParameter(name, f"{value!r} is not a date YYYY-MM-DD") from None
    try:
        period = reports.period(start, end, tz)
    except BadPeriod as exc:
        raise BadParameter("to", str(exc)) from None
    by = params.get("by") or None
    if by is not None and by not in BY:
        raise BadParameter("by", f"{by!r} is not a slice (one of {', '.join(BY)})")
    filters: dict[str, Any] = {}
    for name, column in FILTER_PARAMETERS.items():
        value = params.get(name)
        if value in (None, ""):
            continue
        if name == "version":
            if not str(value).isdigit():
                raise BadParameter(name, f"{value!r} is not a flow version (a whole number)")
            filters[column] = int(str(value))
        else:
            filters[column] = value
    return Request(period, by, filters)


# -- JSON ----------------------------------------------------------------------------------------------


def funnel_json(reports: Reports, request: Request) -> dict[str, Any]:
    slices = reports.slices(request.period, request.by, **request.filters)
    return {
        "report": "funnel",
        **request.as_json(),
        "slices": [{"key": s.key, "steps": [asdict(step) for step in s.funnel]} for s in slices],
    }


def deflection_json(reports: Reports, request: Request) -> dict[str, Any]:
    slices = reports.slices(request.period, request.by, **request.filters)
    return {
        "report": "deflection",
        **request.as_json(),
        "slices": [{"key": s.key, **s.deflection.as_json()} for s in slices],
    }


def refusals_json(reports: Reports, request: Request) -> dict[str, Any]:
    """Why no offer was made; not sliced (`by` is refused by the callers)."""
    found = reports.refusals(request.period, **request.filters)
    return {
        "report": "refusals",
        **request.as_json(),
        "refusals": [{"reason": reason, "calls": calls} for reason, calls in found],
    }


def _comparison(c: Comparison) -> dict[str, Any]:
    return asdict(c) | {"baseline": list(c.baseline), "other": list(c.other)}


def experiments_json(reports: Reports, request: Request) -> dict[str, Any]:
    """Each offer experiment: every variant's funnel and deflection, and against the baseline (the
    first variant by name) its take rate and net deflection with intervals; not sliced."""
    found = reports.experiments(request.period, **request.filters)
    return {
        "report": "experiments",
        **request.as_json(),
        "experiments": [
            {
                "flow_id": e.flow_id,
                "queue": e.queue,
                "baseline": e.variants[0].variant,
                "variants": [
                    {
                        "variant": v.variant,
                        "steps": [asdict(step) for step in v.figures.funnel],
                        "deflection": v.figures.deflection.as_json(),
                        "take_rate": _comparison(v.take_rate),
                        "net_deflection": _comparison(v.net_deflection),
                    }
                    for v in e.variants
                ],
            }
            for e in found
        ],
    }


JSON: dict[str, Callable[[Reports, Request], dict[str, Any]]] = {
    "funnel": funnel_json,
    "deflection": deflection_json,
    "refusals": refusals_json,
    "experiments": experiments_json,
}


# -- tables --------------------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return EMPTY if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.0f} s"


def table(rows: list[list[str]]) -> str:
    """Columns padded to their widest cell; the first left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def funnel_table(slices: list[Slice]) -> str:
    """One row per slice: each step's count and, after the first, its share of the step before."""
    header = ["slice", *(label for _, label in FUNNEL)]
    rows = [header]
    for s in slices:
        cells = [s.key]
        for index, step in enumerate(s.funnel):
            cells.append(str(step.count) if index == 0 else f"{step.count} ({percent(step.of_previous)})")
        rows.append(cells)
    return table(rows)


def deflection_table(slices: list[Slice]) -> str:
    first = slices[0].deflection if slices else None
    short = f"net {first.short_window}" if first else "net short"
    long = f"net {first.long_window}" if first else "net long"
    rows = [
        [
            "slice",
            "calls",
            "offered",
            "take rate",
            "deflected",
            "gross",
            short,
            long,
            "to SMS p50",
            "to chat p50",
            "agent min avoided",
            "savings",
        ]
    ]
    for s in slices:
        d = s.deflection
        rows.append(
            [
                s.key,
                str(d.calls),
                str(d.offered),
                percent(d.offer_take_rate),
                str(d.deflected),
                percent(d.gross_rate),
                f"{d.net_short} ({percent(d.net_short_rate)})",
                f"{d.net_long} ({percent(d.net_long_rate)})",
                seconds(d.to_sms_p50),
                seconds(d.to_chat_p50),
                str(d.agent_minutes_avoided),
                f"{d.savings} {d.currency}",
            ]
        )
    return table(rows)


def refusals_table(refusals: list[tuple[str, int]]) -> str:
    if not refusals:
        return "no offer was refused in this period"
    return table([["reason", "calls"], *([reason, str(calls)] for reason, calls in refusals)])


def _rate_with_interval(rate: float | None, interval: Interval | None) -> str:
    if rate is None or interval is None:
        return EMPTY
    return f"{percent(rate)} [{percent(interval.low)}, {percent(interval.high)}]"


def _against(c: Comparison, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    if c.difference is None or c.difference_interval is None:
        return c.verdict
    low, high = c.difference_interval.low * 100, c.difference_interval.high * 100
    return f"{c.difference * 100:+.1f} pt [{low:+.1f}, {high:+.1f}] {c.verdict}"


def experiments_table(experiments: list[Experiment]) -> str:
    """Per experiment: each variant's calls, take rate and net deflection with their 95 % intervals,
    and the difference from the baseline with its interval and whether it is significant yet."""
    if not experiments:
        return "no offer experiment ran in this period"
    blocks = []
    for e in experiments:
        rows = [["variant", "calls", "offered", "take rate", "vs baseline", "net deflection", "vs baseline"]]
        for index, v in enumerate(e.variants):
            rows.append(
                [
                    v.variant,
                    str(v.figures.sums["calls"]),
                    str(v.figures.sums["offered"]),
                    _rate_with_interval(v.take_rate.other_rate, v.take_rate.other_interval),
                    _against(v.take_rate, index == 0),
                    _rate_with_interval(v.net_deflection.other_rate, v.net_deflection.other_interval),
                    _against(v.net_deflection, index == 0),
                ]
            )
        blocks.append(f"{e.flow_id} / {e.queue}\n{table(rows)}")
    return "\n\n".join(blocks)
