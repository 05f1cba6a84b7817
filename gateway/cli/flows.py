"""`deflect flows validate|schema`: check flow files and print their JSON Schema. Drafts, publishing and
rollback are `deflect content` (one lifecycle for flows and texts)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli import base
from gateway.settings import PROJECT_ROOT


@click.group()
def flows() -> None:
    """IVR flow files: check them, print their schema (publish with `deflect content`)."""


@flows.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def validate(path: Path | None) -> None:
    """Check flow files (default: ivr_flows/); exits 1 and lists every problem with its line."""
    from gateway.flows.loader import format_problem, validate_path

    target = path or PROJECT_ROOT / "ivr_flows"
    problems = [format_problem(p) for p in validate_path(target)] or _missing_templates(target)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {target}", err=True)
        sys.exit(1)
    click.echo(f"{target}: all flows are valid")


def _missing_templates(target: Path) -> list[str]:
    """Offers whose SMS template does not exist for the flow's locale (checked against the templates
    the gateway would load: DEFLECT_TEMPLATES_DIR)."""
    from gateway.flows.loader import flow_files, load_flow
    from gateway.messaging.templates import TemplateError, TemplateSet
    from gateway.services import missing_templates

    templates_dir = base.settings().deflect_templates_dir
    try:
        templates = TemplateSet.load(templates_dir)
    except TemplateError as exc:
        return [f"{templates_dir}: {exc}"]
    files = flow_files(target) if target.is_dir() else [target]
    return [
        f"{path}: offer uses an SMS template that does not exist: {missing}"
        for path in files
        for missing in missing_templates([load_flow(path)], templates)
    ]


@flows.command("schema")
def schema() -> None:
    """Print the JSON Schema of flow files (for editors; also in gateway/flows/schema.json)."""
    from gateway.flows.model import render_schema

    click.echo(render_schema(), nl=False)
