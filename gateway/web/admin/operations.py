"""Operations (admins): the messaging pause and the ranges an SMS pumping trip paused; a number's
consent and opt-out, the ledger's check and opt-outs; hand-off dead letters with replay; the outbox.

Lists show numbers masked and message bodies without their links; a full number is shown only on the
page of a look-up someone asked for (and that look-up is in the audit log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from gateway.deflection.ledger import NOTE_LENGTH, OptOutRefused
from gateway.deflection.outbox import STATUSES
from gateway.deflection.outbox_list import recent_messages
from gateway.handoff.dead_letters import NotADeadLetter
from gateway.logs import mask_number
from gateway.phone import parse_number
from gateway.store.audit import AuditQuery
from gateway.users.roles import Permission
from gateway.web.admin.base import MenuItem, actor, area, page_arg, page_count, requires
from gateway.web.admin.i18n import gettext as _
from gateway.web.context import services

bp = area("operations", __name__)
MENU = MenuItem("admin_operations.index", "ops.menu", Permission.OPERATE)

PER_PAGE = 50
REASON_LENGTH = 500
DEFAULT_REGION = "RU"  # numbers typed without +, as `deflect consent export --region` defaults


# -- the messaging pause and range pauses ---------------------------------------------------------


@bp.get("/")
@requires(Permission.OPERATE)
def index() -> Any:
    return _index()


def _index(error: str | None = None, status: int = 200) -> Any:
    svc = services()
    return (
        render_template(
            "admin/operations/index.html",
            switch=svc.guards.switch.state(),
            # "messaging." is the switch and the range pauses lifted by hand (subject messaging:<range>)
            history=svc.audit_log.search(AuditQuery(action="messaging."), per_page=10).entries,
            ranges=svc.guards.range_pauses(),
            at=lambda moment: datetime.fromtimestamp(moment, UTC),
            error=error,
        ),
        status,
    )


@bp.post("/pause")
@requires(Permission.OPERATE)
def pause() -> Any:
    reason = request.form.get("reason", "").strip()[:REASON_LENGTH]
    if not reason:
        return _index("ops.pause_needs_reason", 400)
    services().guards.switch.set(True, actor=actor(), reason=reason)
    flash(_("ops.paused_now"), "ok")
    return redirect(url_for(".index"))


@bp.post("/resume")
@requires(Permission.OPERATE)
def resume() -> Any:
    reason = request.form.get("reason", "").strip()[:REASON_LENGTH]
    services().guards.switch.set(False, actor=actor(), reason=reason)
    flash(_("ops.resumed_now"), "ok")
    return redirect(url_for(".index"))


@bp.post("/ranges/lift")
@requires(Permission.OPERATE)
def lift_range() -> Any:
    range_ = request.form.get("range", "").strip()[:32]
    reason = request.form.get("reason", "").strip()[:REASON_LENGTH]
    if range_ and services().guards.lift(range_, actor=actor(), reason=reason):
        flash(_("ops.range_lifted", range=range_), "ok")
    else:
        flash(_("ops.range_not_paused", range=range_), "error")
    return redirect(url_for(".index"))


# -- consent and opt-outs -------------------------------------------------------------------------


@bp.get("/consent")
@requires(Permission.OPERATE)
def consent() -> Any:
    return render_template("admin/operations/consent.html", region=DEFAULT_REGION)


@bp.post("/consent")
@requires(Permission.OPERATE)
def consent_look_up() -> Any:
    number, region, error = _number()
    if number is None:
        return render_template("admin/operations/consent.html", error=error, **_typed()), 400
    found = services().ledger.look_up(number, actor=actor())
    return render_template(
        "admin/operations/number.html", found=found, region=region, note_length=NOTE_LENGTH
    )


@bp.post("/consent/export")
@requires(Permission.OPERATE)
def consent_export() -> Any:
    number, _region, error = _number()
    if number is None:
        return render_template("admin/operations/consent.html", error=error, **_typed()), 400
    records = services().ledger.export(number, actor=actor())
    body = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    name = f"consent-{services().clock.now():%Y%m%d-%H%M%S}.jsonl"
    return Response(
        body,
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/ledger")
@requires(Permission.OPERATE)
def ledger() -> Any:
    return render_template("admin/operations/ledger.html", check=services().ledger.verify())


@bp.get("/opt-outs")
@requires(Permission.OPERATE)
def opt_outs() -> Any:
    page = page_arg()
    entries, total = services().ledger.opt_outs(limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template(
        "admin/operations/opt_outs.html",
        entries=entries,
        page=page,
        pages=page_count(total, PER_PAGE),
        total=total,
        region=DEFAULT_REGION,
    )


@bp.post("/opt-outs")
@requires(Permission.OPERATE)
def opt_out() -> Any:
    number, region, error = _number()
    if number is None:
        return render_template("admin/operations/consent.html", error=error, **_typed()), 400
    try:
        done = services().ledger.opt_out(number, note=request.form.get("note", ""), actor=actor())
    except OptOutRefused:
        found = services().ledger.look_up(number, actor=actor())
        return render_template(
            "admin/operations/number.html",
            found=found,
            region=region,
            note_length=NOTE_LENGTH,
            opt_out_error="ops.opt_out_needs_note",
        ), 400
    if done:
        flash(_("ops.opted_out_now", number=mask_number(number)), "ok")
    else:
        flash(_("ops.opted_out_already", number=mask_number(number)), "error")
    return redirect(url_for(".opt_outs"))


# -- hand-off dead letters ------------------------------------------------------------------------


@bp.get("/dead-letters")
@requires(Permission.OPERATE)
def dead_letters() -> Any:
    return render_template("admin/operations/dead_letters.html", letters=services().dead_letters.all())


@bp.post("/dead-letters/replay")
@requires(Permission.OPERATE)
def replay() -> Any:
    wanted = request.form.get("handoff_id", "").strip()
    if wanted != "all" and not wanted.isdigit():
        flash(_("ops.replay_refused", id=wanted[:12]), "error")
        return redirect(url_for(".dead_letters"))
    try:
        queued = services().dead_letters.replay(None if wanted == "all" else [int(wanted)], actor=actor())
    except NotADeadLetter as exc:
        flash(_("ops.replay_refused", id=exc.handoff_id), "error")
        return redirect(url_for(".dead_letters"))
    flash(_("ops.replayed", count=len(queued)), "ok")
    return redirect(url_for(".dead_letters"))


# -- the outbox -----------------------------------------------------------------------------------


@bp.get("/outbox")
@requires(Permission.OPERATE)
def outbox() -> Any:
    status = request.args.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    page = page_arg()
    found = recent_messages(services().database, status=status, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template(
        "admin/operations/outbox.html",
        found=found,
        status=status,
        statuses=STATUSES,
        page=page,
        pages=page_count(found.total, PER_PAGE),
    )


# -- form parsing ---------------------------------------------------------------------------------


def _typed() -> dict[str, str]:
    """What the form had, to show it again next to its error."""
    return {
        "number": request.form.get("number", "")[:40],
        "region": request.form.get("region", DEFAULT_REGION)[:2],
    }


def _number() -> tuple[str | None, str, str | None]:
    """(E.164, region, None) from the form, or (None, region, the error's text key)."""
    raw = request.form.get("number", "")[:40]
    region = (request.form.get("region", "") or DEFAULT_REGION).strip().upper()[:2]
    if not raw.strip():
        return None, region, "ops.number_missing"
    parsed = parse_number(raw, default_region=region)
    return (parsed.e164, region, None) if parsed is not None else (None, region, "ops.number_invalid")
