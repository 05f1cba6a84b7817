"""`deflect content ...`: everything callers hear and read (flows, SMS texts, voice texts) through one
lifecycle: draft -> publish (a numbered version, live at once) -> rollback to a named version; files
in and out with import and export; an audit entry for every change. Every command takes `--json`.

These commands use the database only (no Redis): every running process follows the live versions
within seconds by itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gateway.cli import base

KINDS_HELP = "flow, sms or voice"


def _service() -> Any:
    from gateway.clock import SystemClock
    from gateway.content.service import ContentService
    from gateway.services import content_kinds
    from gateway.store.content import ContentStore

    settings = base.settings()
    return ContentService(
        ContentStore(base.database()),
        content_kinds(settings),
        SystemClock(),
        four_eyes=settings.deflect_admin_four_eyes,
    )


def _directories(root: Path | None) -> dict[str, Path]:
    """Each kind's directory: the configured ones, or the same layout under `root`."""
    from gateway.services import content_kinds

    kinds = content_kinds(base.settings())
    if root is None:
        return {name: kind.directory for name, kind in kinds.items()}
    return {name: root / kind.directory.name for name, kind in kinds.items()}


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from exc


by_option = click.option("--by", default=None, help="who does it (kept in the audit log; default: cli:$USER)")
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON")


@click.group()
def content() -> None:
    """Flows and texts: drafts, versions, the live version, rollback, import and export."""


@content.command("list")
@json_option
def list_items(as_json: bool) -> None:
    """Every item with its live version, its number of versions and its draft's state."""
    items = _service().items()
    if as_json:
        base.echo_json([_status_json(item) for item in items])
        return
    for item in items:
        live = f"v{item.live}" if item.live is not None else "-"
        click.echo(
            f"{item.kind:6} {item.key:24} live {live:5} {item.versions:3} versions  draft: {item.draft_state}"
        )


@content.command("status")
@click.argument("kind")
@click.argument("key")
@json_option
def status(kind: str, key: str, as_json: bool) -> None:
    """One item: its live version, its draft (and the draft's problems)."""
    from gateway.content.service import ContentError

    try:
        item = _service().status(kind, key)
    except ContentError as exc:
        _fail(exc)
    if as_json:
        base.echo_json(_status_json(item))
        return
    count = f"{item.versions} version{'s' if item.versions != 1 else ''}"
    click.echo(f"{item.kind} {item.key}: live version {item.live}, {count}")
    if item.draft is not None:
        click.echo(
            f"draft ({item.draft_state}): by {item.draft.author} at {item.draft.updated_at:%Y-%m-%d %H:%M}, "
            f"started from version {item.draft.based_on}"
        )
        for problem in item.draft.problems:
            click.echo(f"  {problem}")


@content.command("history")
@click.argument("kind")
@click.argument("key")
@json_option
def history(kind: str, key: str, as_json: bool) -> None:
    """Every version, newest first, with who published it, when, and why."""
    service = _service()
    live = service.store.live_pointers().get((kind, key))
    versions = service.history(kind, key)
    if as_json:
        base.echo_json(
            [
                {
                    "version": v.version,
                    "live": v.version == live,
                    "author": v.author,
                    "comment": v.comment,
                    "created_at": v.created_at.isoformat(),
                    "checksum": v.checksum,
                }
                for v in versions
            ]
        )
        return
    if not versions:
        click.echo(f"{kind} {key} has no versions")
    for v in versions:
        mark = "*" if v.version == live else " "
        click.echo(f"{mark} v{v.version:<4} {v.created_at:%Y-%m-%d %H:%M}  {v.author:20} {v.comment}")


@content.command("diff")
@click.argument("kind")
@click.argument("key")
@click.argument("old", default="live")
@click.argument("new", default="draft")
@json_option
def diff(kind: str, key: str, old: str, new: str, as_json: bool) -> None:
    """A unified diff between two of: a version number, live, draft (default: live -> draft)."""
    from gateway.content.service import ContentError

    try:
        text = _service().diff(kind, key, _which(old), _which(new))
    except ContentError as exc:
        _fail(exc)
    if as_json:
        base.echo_json({"kind": kind, "key": key, "old": old, "new": new, "diff": text})
    else:
        click.echo(text or f"{old} and {new} are the same", nl=bool(not text))


@content.command("draft")
@click.argument("kind")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--key", default=None, help="the item (default: the flow's id, the texts' locale)")
@by_option
@json_option
def draft(kind: str, paths: tuple[Path, ...], key: str | None, by: str | None, as_json: bool) -> None:
    """Save files as an item's draft (a flow's YAML file; a locale's directory of SMS texts; a
    locale's voice texts file). It is checked at once; exit code 1 when it has problems."""
    from gateway.content.service import ContentError

    service = _service()
    try:
        files = _read_files(service, kind, paths)
        saved = service.save_draft(kind, files, actor=base.actor(by), key=key)
    except ContentError as exc:
        _fail(exc)
    if as_json:
        base.echo_json(
            {"kind": saved.kind, "key": saved.key, "based_on": saved.based_on, "problems": saved.problems}
        )
    else:
        click.echo(f"draft of {saved.kind} {saved.key} saved (started from version {saved.based_on})")
        for problem in saved.problems:
            click.echo(f"  {problem}", err=True)
    if saved.problems:
        sys.exit(1)


@content.command("discard")
@click.argument("kind")
@click.argument("key")
@by_option
@json_option
def discard(kind: str, key: str, by: str | None, as_json: bool) -> None:
    """Throw an item's draft away (the live version is untouched); exit code 1 when there is none."""
    if not _service().discard_draft(kind, key, actor=base.actor(by)):
        raise click.ClickException(f"{kind} {key} has no draft")
    if as_json:
        base.echo_json({"kind": kind, "key": key, "discarded": True})
    else:
        click.echo(f"draft of {kind} {key} discarded")


@content.command("validate")
@click.argument("kind", required=False)
@click.argument("key", required=False)
@json_option
def validate(kind: str | None, key: str | None, as_json: bool) -> None:
    """Check drafts again (all of them, or one): every problem with file, line and step. Files not
    yet imported: `deflect content import --check`."""
    from gateway.flows.loader import format_problem

    service = _service()
    drafts = [
        d
        for d in service.store.drafts()
        if (kind is None or d.kind == kind) and (key is None or d.key == key)
    ]
    found = {
        f"{d.kind}:{d.key}": [format_problem(p) for p in service.check(d.kind, d.key, d.files)]
        for d in drafts
    }
    if as_json:
        base.echo_json(found)
    else:
        if not found:
            click.echo("no drafts")
        for item, problems in found.items():
            click.echo(f"{item}: {'ok' if not problems else f'{len(problems)} problems'}")
            for problem in problems:
                click.echo(f"  {problem}")
    if any(found.values()):
        sys.exit(1)


@content.command("publish")
@click.argument("kind")
@click.argument("key")
@click.option("--comment", "-m", required=True, help="why (kept with the version)")
@click.option("--force", is_flag=True, help="publish a draft started from an older version than the live one")
@by_option
@json_option
def publish(kind: str, key: str, comment: str, force: bool, by: str | None, as_json: bool) -> None:
    """Make an item's draft its next version, live in every process within seconds."""
    from gateway.content.service import ContentError

    try:
        outcome = _service().publish(kind, key, actor=base.actor(by), comment=comment, force=force)
    except ContentError as exc:
        _fail(exc)
    _echo_outcome(outcome, as_json)


@content.command("rollback")
@click.argument("kind")
@click.argument("key")
@click.option("--to", "version", required=True, type=int, help="the version to make live")
@by_option
@json_option
def rollback(kind: str, key: str, version: int, by: str | None, as_json: bool) -> None:
    """Make a named version live again (nothing is deleted; twice in a row, it stays live)."""
    from gateway.content.service import ContentError

    try:
        outcome = _service().rollback(kind, key, version, actor=base.actor(by))
    except ContentError as exc:
        _fail(exc)
    _echo_outcome(outcome, as_json)


@content.command("export")
@click.option(
    "--to",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    help="a directory (default: where the files are configured)",
)
@json_option
def export(root: Path | None, as_json: bool) -> None:
    """Write the live version of every item to files, byte for byte as published (for git)."""
    written = _service().export(_directories(root))
    if as_json:
        base.echo_json([str(path) for path in written])
    else:
        click.echo(f"{len(written)} files written")


@content.command("import")
@click.option(
    "--from",
    "root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="a directory (default: where the files are configured)",
)
@click.option("--comment", "-m", default="imported from files", show_default=True)
@click.option("--check", is_flag=True, help="only check the files and say what would change (for CI)")
@by_option
@json_option
def import_(root: Path | None, comment: str, check: bool, by: str | None, as_json: bool) -> None:
    """Publish every item whose files differ from its live version (identical ones make no version).
    All or nothing: when any file has problems nothing is imported, every problem is listed and the
    exit code is 1."""
    outcomes = _service().import_files(
        _directories(root), actor=base.actor(by), comment=comment, dry_run=check
    )
    if as_json:
        base.echo_json([_outcome_json(o) for o in outcomes])
    else:
        for outcome in outcomes:
            click.echo(f"{outcome.kind} {outcome.key}: {outcome.message}")
            for problem in outcome.problems:
                click.echo(f"  {problem}", err=True)
    if any(o.problems for o in outcomes):
        sys.exit(1)


@content.command("audit")
@click.option("--subject", default=None, help="one item (flow:ru-bank-support) or messaging")
@click.option("--limit", default=50, show_default=True)
@json_option
def audit(subject: str | None, limit: int, as_json: bool) -> None:
    """The audit log, newest first: who changed what, when, from what to what."""
    rows = _service().store.audit(subject, limit)
    entries = [
        {
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "subject": row.subject,
            "before": row.before,
            "after": row.after,
            "detail": row.detail,
        }
        for row in rows
    ]
    if as_json:
        base.echo_json(entries)
        return
    for e in entries:
        change = f"{e['before'] or '-'} -> {e['after'] or '-'}"
        click.echo(f"{e['at'][:19]}  {e['actor']:20} {e['action']:24} {e['subject']:28} {change}")


def _read_files(service: Any, kind: str, paths: tuple[Path, ...]) -> dict[str, str]:
    """The files of one item, named as its kind names them (a locale's SMS directory is read whole)."""
    from gateway.content.kinds import read_text

    files: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            for items in service.kinds[kind].scan(path.parent).values():
                files.update({name: text for name, text in items.items() if name.startswith(f"{path.name}/")})
        elif kind == "sms":
            files[f"{path.parent.name}/{path.name}"] = read_text(path)
        else:
            files[path.name] = read_text(path)
    return files


def _which(value: str) -> int | str:
    return int(value.removeprefix("v")) if value.removeprefix("v").isdigit() else value


def _status_json(item: Any) -> dict[str, Any]:
    draft = item.draft
    return {
        "kind": item.kind,
        "key": item.key,
        "live": item.live,
        "versions": item.versions,
        "draft": None
        if draft is None
        else {
            "state": item.draft_state,
            "based_on": draft.based_on,
            "author": draft.author,
            "updated_at": draft.updated_at.isoformat(),
            "problems": draft.problems,
        },
    }


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "kind": outcome.kind,
        "key": outcome.key,
        "version": outcome.version,
        "created": outcome.created,
        "message": outcome.message,
        "problems": list(outcome.problems),
    }


def _echo_outcome(outcome: Any, as_json: bool) -> None:
    if as_json:
        base.echo_json(_outcome_json(outcome))
    else:
        click.echo(f"{outcome.kind} {outcome.key}: {outcome.message}")
