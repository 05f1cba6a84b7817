"""`deflect flows ...` (validate, publish, rollback, schema). Publishing writes the database only; every
running process picks the new version up by itself."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.cli import base
from gateway.clock import SystemClock
from gateway.settings import PROJECT_ROOT


@click.group()
def flows() -> None:
    """IVR flows: check, publish and roll back without a restart."""


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


@flows.command("publish")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", default="cli", show_default=True, help="who publishes (kept in the history)")
def publish(path: Path, by: str) -> None:
    """Publish a flow file as the next version; every process picks it up within seconds."""
    from gateway.content.flows import publish as publish_flow
    from gateway.flows.loader import FlowError, format_problem
    from gateway.store.flow_versions import FlowVersions

    try:
        row = publish_flow(
            FlowVersions(base.database()),
            path.read_text(encoding="utf-8"),
            by=by,
            now=SystemClock().now(),
            source_name=str(path),
        )
    except FlowError as exc:
        for problem in exc.problems:
            click.echo(format_problem(problem), err=True)
        sys.exit(1)
    click.echo(f"published {row.flow_id} version {row.version}")


@flows.command("rollback")
@click.argument("flow_id")
@click.option("--by", default="cli", show_default=True)
def rollback(flow_id: str, by: str) -> None:
    """Publish the previous version of a flow again (as a new version; history is kept)."""
    from gateway.content.flows import file_source
    from gateway.content.flows import rollback as rollback_flow
    from gateway.store.flow_versions import FlowVersions

    try:
        row = rollback_flow(
            FlowVersions(base.database()),
            flow_id,
            by=by,
            now=SystemClock().now(),
            file_source=file_source(base.settings().deflect_flows_dir, flow_id),
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{flow_id} is back to the text of its previous version, published as version {row.version}")
