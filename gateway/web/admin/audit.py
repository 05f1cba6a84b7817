"""The audit log: every change from the console, the CLI or an API, newest first, filtered by who, what,
which subject and when, a page at a time, and the same filter exported as CSV.

A CSV opens in a spreadsheet, which runs a cell that starts like a formula: such a cell gets a leading
quote (OWASP's advice on CSV injection), since actors and subjects are typed by people."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response, render_template, request

from gateway.store.audit import AuditQuery
from gateway.store.models import AuditEntry
from gateway.users.roles import Permission
from gateway.web.admin.base import MenuItem, area, page_arg, requires
from gateway.web.context import services

bp = area("audit", __name__)
MENU = MenuItem("admin_audit.index", "audit.menu", Permission.OPERATE)

FILTERS = ("actor", "action", "subject", "from", "to")
CSV_COLUMNS = ("at", "actor", "action", "subject", "before", "after", "detail")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@bp.get("/")
@requires(Permission.OPERATE)
def index() -> Any:
    query, typed, problems = _query()
    log = services().audit_log
    found = log.search(query, page=page_arg())
    return render_template(
        "admin/audit/index.html",
        found=found,
        typed=typed,
        filters={k: v for k, v in typed.items() if v},
        problems=problems,
        actions=log.actions(),
    ), (400 if problems else 200)


@bp.get("/export.csv")
@requires(Permission.OPERATE)
def export() -> Any:
    query, _typed, problems = _query()
    if problems:
        return Response("bad filter: " + ", ".join(problems) + "\n", 400, mimetype="text/plain")
    entries = services().audit_log.each(query)
    name = f"audit-{services().clock.now():%Y%m%d-%H%M%S}.csv"
    return Response(
        csv_lines(entries),  # streamed: the log is read a chunk at a time, no request needed
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The entries as CSV text, a line at a time, every cell safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(cell) for cell in cells])
        return buffer.getvalue()

    yield "\ufeff" + line(CSV_COLUMNS)  # the BOM: spreadsheets then read the Cyrillic as UTF-8
    for entry in entries:
        detail = json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail else ""
        yield line(
            [
                entry.at.astimezone(UTC).isoformat(),
                entry.actor,
                entry.action,
                entry.subject,
                entry.before or "",
                entry.after or "",
                detail,
            ]
        )


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ (or a tab or carriage return)
    gets a leading quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _query() -> tuple[AuditQuery, dict[str, str], list[str]]:
    """The filter from the query string, what was typed (to show it again), and the fields in error."""
    typed = {name: request.args.get(name, "").strip()[:120] for name in FILTERS}
    problems = []
    since, until = _day(typed["from"]), _day(typed["to"])
    if typed["from"] and since is None:
        problems.append("from")
    if typed["to"] and until is None:
        problems.append("to")
    query = AuditQuery(
        actor=typed["actor"],
        action=typed["action"],
        subject=typed["subject"],
        since=since,
        until=until + timedelta(days=1) if until is not None else None,  # the whole last day
    )
    return query, typed, problems


def _day(text: str) -> datetime | None:
    """The start of a day (UTC) typed as YYYY-MM-DD."""
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC) if text else None
    except ValueError:
        return None
