"""`deflect templates check`: the SMS texts' cost in segments."""

from __future__ import annotations

import sys
from pathlib import Path

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
