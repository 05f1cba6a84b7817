"""`/api/v1/reports`: the reports as JSON (the shapes of `deflect report ... --json`) and the fact rows
as CSV or XLSX, for BI tools and scripts. Every request carries `Authorization: Bearer <token>` (made by
`deflect tokens add` or the console); it is checked before anything else is read, and a missing, unknown
or revoked token gets 401. No cookies: the console's session and CSRF play no part here."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from gateway.reporting import render
from gateway.reporting.export import csv_lines, write_xlsx
from gateway.web.context import services

bp = Blueprint("reports_api", __name__, url_prefix="/api/v1/reports")
PARAMETERS = ("from", "to", "tz", "by", *render.FILTER_PARAMETERS)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.before_request
def _authorised() -> Any:
    kind, _, secret = request.headers.get("Authorization", "").partition(" ")
    token = services().tokens.verify(secret.strip()) if kind.lower() == "bearer" and secret else None
    if token is None:
        response = jsonify(error="a valid token is required: Authorization: Bearer <token>")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="reports", error="invalid_token"'
        return response
    g.api_token = token
    return None


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad(exc: render.BadParameter) -> Any:
    response = jsonify(error=exc.message, parameter=exc.name)
    response.status_code = 400
    return response


def _request(*, sliced: bool) -> render.Request:
    params = {name: request.args.get(name) for name in PARAMETERS}
    if not sliced and params.get("by"):
        raise render.BadParameter("by", "this report is not sliced")
    return render.parse_request(services().reports, params)


def _report(name: str) -> Any:
    try:
        parsed = _request(sliced=name not in ("refusals", "experiments"))
    except render.BadParameter as exc:
        return _bad(exc)
    return jsonify(render.JSON[name](services().reports, parsed))


@bp.get("/funnel")
def funnel() -> Any:
    return _report("funnel")


@bp.get("/deflection")
def deflection() -> Any:
    return _report("deflection")


@bp.get("/refusals")
def refusals() -> Any:
    return _report("refusals")


@bp.get("/experiments")
def experiments() -> Any:
    return _report("experiments")


def _export(extension: str, mimetype: str, body: Callable[[Iterator[Any], ZoneInfo], Iterator[Any]]) -> Any:
    """The period's fact rows as a download, made by `body` from the rows and the period's zone."""
    try:
        parsed = _request(sliced=False)
    except render.BadParameter as exc:
        return _bad(exc)
    facts = services().reports.facts(parsed.period, **parsed.filters)
    name = f"calls-{parsed.period.start}-{parsed.period.end}.{extension}"
    return Response(
        stream_with_context(body(facts, parsed.period.tz)),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _workbook(facts: Iterator[Any], tz: ZoneInfo) -> Iterator[bytes]:
    """A workbook is a zip whose directory comes last: made in a temporary file, then sent from it."""
    with tempfile.TemporaryFile() as spooled:
        write_xlsx(facts, tz, spooled)
        spooled.seek(0)
        while chunk := spooled.read(64 * 1024):
            yield chunk


@bp.get("/facts.csv")
def facts_csv() -> Any:
    return _export("csv", "text/csv", csv_lines)


@bp.get("/facts.xlsx")
def facts_xlsx() -> Any:
    return _export("xlsx", XLSX, _workbook)
