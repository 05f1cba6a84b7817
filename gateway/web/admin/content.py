"""Flows and texts in the console: every kind of content (IVR flows, SMS texts and voice texts per
locale) through one lifecycle of pages: the list, an item with its history, the draft editor (checked
on every save), a diff between any two versions, publish and rollback; and for a flow, its diagram and
where it is used. Every view calls `services().content`, the same API as `deflect content`."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from gateway.content.service import ContentError, FourEyesError, ItemStatus, Outcome, Which
from gateway.flows.crosschecks import uses
from gateway.flows.diagram import NODE_HEIGHT, NODE_WIDTH, layout
from gateway.users.roles import Permission
from gateway.web.admin import base
from gateway.web.admin.i18n import gettext as _
from gateway.web.context import services

bp = base.area("content", __name__)
MENU = base.MenuItem("admin_content.index", "menu.flows", Permission.VIEW)

FLOWS = ("flow",)
TEXTS = ("sms", "voice")
FILE_FIELD = "file:"  # an editor textarea is named "file:<the file's path in the item>"
PROBLEM_AT = re.compile(r"^(?P<file>[^:\s]+?)(?::(?P<line>\d+))?:")  # gateway.flows.problems.format_problem


@bp.get("/")
@base.requires(Permission.VIEW)
def index() -> Any:
    return listing(FLOWS, _("content.flows_title"))


def listing(kinds: tuple[str, ...], title: str) -> Any:
    """The items of some kinds with their live version, draft state and last change (who, when)."""
    content = services().content
    items = [item for item in content.items() if item.kind in kinds]
    return render_template(
        "admin/content/list.html", items=items, last=content.last_changes(), title=title, kinds=kinds
    )


@bp.get("/<kind>/<key>")
@base.requires(Permission.VIEW)
def item(kind: str, key: str) -> Any:
    content = services().content
    status = _status(kind, key)
    return render_template(
        "admin/content/item.html",
        item=status,
        history=content.history(kind, key),
        changes=content.changes(kind, key),
        used=_uses(kind, key, status),
    )


@bp.route("/<kind>/<key>/edit", methods=["GET", "POST"])
@base.requires(Permission.EDIT)
def edit(kind: str, key: str) -> Any:
    content = services().content
    status = _status(kind, key)
    if request.method == "POST":
        # Only the item's own files: a file name is a path an export writes to, so the console
        # never makes up a new one (a field for any other name is ignored).
        before = _files(kind, key, status)
        files = {
            name: _line_ends(request.form.get(FILE_FIELD + name, text), text) for name, text in before.items()
        }
        draft = content.save_draft(kind, files, actor=base.actor(), key=key)
        if draft.problems:
            flash(_("content.saved_with_problems", count=len(draft.problems)), "error")
        else:
            flash(_("content.saved"), "ok")
        return redirect(url_for(".edit", kind=kind, key=key))
    files = _files(kind, key, status)
    problems = _located(status.draft.problems if status.draft else [], sorted(files))
    return render_template(
        "admin/content/edit.html", item=status, files=files, problems=problems, sms=kind == "sms"
    )


@bp.post("/<kind>/<key>/discard")
@base.requires(Permission.EDIT)
def discard(kind: str, key: str) -> Any:
    _status(kind, key)
    if services().content.discard_draft(kind, key, actor=base.actor()):
        flash(_("content.discarded"), "ok")
    else:
        flash(_("content.no_draft"), "error")
    return _back(kind, key)


@bp.get("/<kind>/<key>/diff")
@base.requires(Permission.VIEW)
def diff(kind: str, key: str) -> Any:
    content = services().content
    status = _status(kind, key)
    default_new = "draft" if status.draft is not None else "live"
    old, new = request.args.get("old", "live"), request.args.get("new", default_new)
    error, text = None, ""
    try:
        text = content.diff(kind, key, _which(old), _which(new))
    except ContentError as exc:
        error = str(exc)
    return render_template(
        "admin/content/diff.html",
        item=status,
        history=content.history(kind, key),
        old=old,
        new=new,
        lines=text.splitlines(),
        error=error,
    ), (404 if error else 200)


@bp.post("/<kind>/<key>/publish")
@base.requires(Permission.PUBLISH)
def publish(kind: str, key: str) -> Any:
    _status(kind, key)
    comment = request.form.get("comment", "").strip()
    if not comment:
        flash(_("content.comment_required"), "error")
        return _back(kind, key)
    try:
        outcome = services().content.publish(
            kind, key, actor=base.actor(), comment=comment[:500], force=bool(request.form.get("force"))
        )
    except FourEyesError as exc:
        flash(_("content.four_eyes", author=exc.author), "error")
        return _back(kind, key)
    except ContentError as exc:
        flash(_("content.publish_refused", reason=str(exc)), "error")
        return _back(kind, key)
    return _done(outcome, kind, key, changed="content.published", unchanged="content.unchanged")


@bp.post("/<kind>/<key>/rollback")
@base.requires(Permission.PUBLISH)
def rollback(kind: str, key: str) -> Any:
    _status(kind, key)
    version = request.form.get("version", "")
    if not version.isdigit():
        abort(400)
    try:
        outcome = services().content.rollback(kind, key, int(version), actor=base.actor())
    except ContentError as exc:
        flash(_("content.rollback_refused", reason=str(exc)), "error")
        return _back(kind, key)
    return _done(outcome, kind, key, changed="content.rolled_back", unchanged="content.live_already")


def _done(outcome: Outcome, kind: str, key: str, *, changed: str, unchanged: str) -> Any:
    """Back to the item, saying what a publish or rollback did (or that it changed nothing)."""
    flash(_(changed if outcome.changed else unchanged, version=outcome.version), "ok")
    return _back(kind, key)


@bp.get("/flow/<key>/diagram")
@base.requires(Permission.VIEW)
def diagram(key: str) -> Any:
    content = services().content
    status = _status("flow", key)
    which = request.args.get("version", "live" if status.live is not None else "draft")
    error, drawn = None, None
    try:
        drawn = layout(content.compiled("flow", key, _which(which)))
    except ContentError as exc:
        error = str(exc)
    return render_template(
        "admin/content/diagram.html",
        item=status,
        history=content.history("flow", key),
        which=which,
        diagram=drawn,
        box=(NODE_WIDTH, NODE_HEIGHT),
        error=error,
    )


def _back(kind: str, key: str) -> Any:
    return redirect(url_for(".item", kind=kind, key=key))


def _status(kind: str, key: str) -> ItemStatus:
    try:
        return services().content.status(kind, key)
    except ContentError:
        abort(404)


def _files(kind: str, key: str, status: ItemStatus) -> dict[str, str]:
    """What the editor starts from: the draft's files, else the live version's."""
    which = "draft" if status.draft is not None else "live"
    return services().content.files(kind, key, which)


def _line_ends(text: str, before: str) -> str:
    """A browser sends a textarea's lines ending in CRLF: a file written with LF keeps LF, so an
    unchanged text is unchanged (and publishes no version)."""
    return text if "\r\n" in before else text.replace("\r\n", "\n")


def _located(problems: list[str], names: list[str]) -> list[tuple[str, str | None, int | None]]:
    """Each problem with the editor's textarea of its file and its line ("file:line: ..."), so the
    list can lead to it."""
    located = []
    for problem in problems:
        found = PROBLEM_AT.match(problem)
        name = found.group("file") if found else None
        line = found.group("line") if found else None
        field = f"file-{names.index(name) + 1}" if name in names else None
        located.append((problem, field, int(line) if line and field else None))
    return located


def _uses(kind: str, key: str, status: ItemStatus) -> Any:
    """Where a flow is used, from its live version (else its draft, when that can be read)."""
    if kind != "flow":
        return None
    try:
        return uses(services().content.compiled(kind, key, "live" if status.live is not None else "draft"))
    except ContentError:
        return None


def _which(value: str) -> Which:
    bare = value.removeprefix("v")
    if bare.isdigit():
        return int(bare)
    if value in ("live", "draft"):
        return value
    abort(404)
