"""`deflect templates check|preview`: the SMS texts' cost in segments, and one text exactly as it would be
sent. `preview` reads the content store (the database only, no Redis) and writes nothing."""

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


@templates.command("preview")
@click.argument("name")
@click.option("--locale", required=True, help="ru-RU, or a language: ru (the first of its locales)")
@click.option("--draft", is_flag=True, help="the locale's draft instead of its live version")
@click.option("--version", "version", type=click.IntRange(min=1), default=None, help="a published version")
@click.option(
    "--channels",
    default=None,
    metavar="LIST",
    help="the messengers the offer names, e.g. whatsapp,telegram (default: every configured one)",
)
@click.option("--json", "as_json", is_flag=True, help="the same for a script")
def preview(
    name: str, locale: str, draft: bool, version: int | None, channels: str | None, as_json: bool
) -> None:
    """One SMS text exactly as an accepted offer would send it now: the configured link mode, brand,
    messengers and public base URL, with a sample reference and link token; then its encoding, length
    and segments. Nothing is written (no session, no outbox row)."""
    from gateway.deflection.preview import PreviewError, preview_sms
    from gateway.services import message_setup

    if draft and version is not None:
        raise click.UsageError("--draft and --version are two different texts: give one")
    settings = base.settings()
    try:
        shown = preview_sms(
            _content(),
            message_setup(settings),
            name=name,
            locale=locale,
            which="draft" if draft else (version or "live"),
            channels=[c.strip() for c in channels.split(",") if c.strip()] if channels is not None else None,
        )
    except PreviewError as exc:
        if exc.param is not None:
            raise click.BadParameter(str(exc), param_hint=_hints[exc.param]) from None
        raise click.ClickException(str(exc)) from None
    info, limit = shown.message.segments, settings.deflect_max_segments
    if as_json:
        base.echo_json(
            {
                "locale": shown.locale,
                "name": shown.name,
                "version": shown.version,
                "link_mode": shown.link_mode,
                "channels": list(shown.channels),
                "text": shown.message.body,
                "encoding": info.encoding,
                "length": info.units,
                "segments": info.segments,
                "per_segment": info.per_segment,
                "non_gsm_chars": list(info.non_gsm_chars),
                "max_segments": limit,
                "over_max_segments": info.segments > limit,
                "sample": True,
            }
        )
        return
    which = "draft" if shown.version == "draft" else f"version {shown.version}"
    base.note(
        f"{shown.locale}/{shown.name} ({which}), link mode {shown.link_mode}, {', '.join(shown.channels)}; "
        "the reference and link token are samples"
    )
    click.echo(shown.message.body)
    click.echo("")
    click.echo(f"encoding  {info.encoding}")
    click.echo(f"length    {info.units} {'septets' if info.is_gsm else 'UTF-16 units'}")
    click.echo(f"segments  {info.segments} ({info.per_segment} per segment)")
    if info.non_gsm_chars and not any(ch.isalpha() for ch in info.non_gsm_chars):
        chars = " ".join(info.non_gsm_chars)
        click.echo(f"WARNING   only {chars} force UCS-2: replace them with plain characters")
    if info.segments > limit:
        click.echo(
            f"WARNING   {info.segments} segments, more than DEFLECT_MAX_SEGMENTS={limit}: "
            f"every SMS costs {info.segments} times"
        )


_hints = {"name": "NAME", "locale": "--locale", "version": "--version", "channels": "--channels"}


def _content() -> Any:
    """The content store's service on the database alone (no Redis: the gateway may be down)."""
    from gateway.clock import SystemClock
    from gateway.content.service import ContentService
    from gateway.services import content_kinds
    from gateway.store.content import ContentStore

    return ContentService(ContentStore(base.database()), content_kinds(base.settings()), SystemClock())
