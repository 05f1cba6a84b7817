"""`deflect flows ...` (validate, publish, rollback, schema). Publishing writes the database only; every
running process picks the new version up by itself."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli import base
from gateway.clock import SystemClock
from gateway.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from gateway.flows.crosschecks import Deployment
    from gateway.flows.loader import CheckedFlow
    from gateway.flows.model import Flow
    from gateway.flows.problems import Problem


@click.group()
def flows() -> None:
    """IVR flows: check, publish and roll back without a restart."""


@flows.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def validate(path: Path | None) -> None:
    """Check flow files (default: ivr_flows/), on their own and against the SMS and voice texts, the
    configured messengers and the hand-off routes; exits 1 and lists every problem with its line."""
    from gateway.flows.crosschecks import cross_check
    from gateway.flows.loader import check_path, format_problem
    from gateway.flows.problems import in_file_order

    target = path or PROJECT_ROOT / "ivr_flows"
    checked, problems = check_path(target)
    deployment, found = _deployment()
    problems = in_file_order(
        [p for c in checked for p in c.problems]
        + problems
        + found
        + cross_check(checked, deployment, in_service=_in_service(target, checked))
    )
    for problem in problems:
        click.echo(format_problem(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {target}", err=True)
        sys.exit(1)
    click.echo(f"{target}: all flows are valid")


def _deployment() -> tuple[Deployment, list[Problem]]:
    """What the flows are checked against, as the gateway would load it (DEFLECT_TEMPLATES_DIR,
    the voice texts, the settings); SMS templates that do not load are a problem of their own."""
    from gateway.flows.problems import Problem
    from gateway.messaging.templates import TemplateError, TemplateSet
    from gateway.services import deployment

    settings = base.settings()
    templates_dir = settings.deflect_templates_dir
    try:
        templates: TemplateSet | None = TemplateSet.load(templates_dir)
    except TemplateError as exc:
        return deployment(settings, None), [Problem(str(templates_dir), None, None, str(exc))]
    return deployment(settings, templates), []


def _in_service(target: Path, checked: list[CheckedFlow]) -> list[Flow]:
    """For one file: the other flows of DEFLECT_FLOWS_DIR, whose queues and ids count too."""
    from gateway.flows.loader import check_path

    if target.is_dir():
        return []
    ids = {c.flow.id for c in checked if c.flow is not None}
    others, _ = check_path(base.settings().deflect_flows_dir)
    return [c.flow for c in others if c.flow is not None and c.flow.id not in ids]


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
