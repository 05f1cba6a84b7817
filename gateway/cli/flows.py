"""`deflect flows ...` (validate, publish, rollback, schema) and `deflect simulate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

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
    from gateway.settings import load_settings

    templates_dir = load_settings().deflect_templates_dir
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
    from gateway.flows.loader import FlowError, format_problem
    from gateway.flows.registry import publish as publish_flow

    svc = _app().extensions["deflect"]
    try:
        row = publish_flow(
            svc.database,
            path.read_text(encoding="utf-8"),
            by=by,
            now=svc.clock.now(),
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
    from gateway.flows.registry import file_source
    from gateway.flows.registry import rollback as rollback_flow

    svc = _app().extensions["deflect"]
    try:
        row = rollback_flow(
            svc.database,
            flow_id,
            by=by,
            now=svc.clock.now(),
            file_source=file_source(svc.settings.deflect_flows_dir, flow_id),
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{flow_id} is back to the text of its previous version, published as version {row.version}")


@click.command()
@click.option(
    "--to", "called", default=None, help="the number called (picks the flow); default flow if unset"
)
@click.option("--from", "caller", default="+79161234567", show_default=True, help="the caller's number")
@click.option("--keys", default=None, help="play keys without asking, e.g. '1,2,w60,1,1' (w60: wait 60 s)")
def simulate(called: str | None, caller: str, keys: str | None) -> None:
    """Play a call in the terminal: hear what the caller hears and press keys (w: wait in queue)."""
    from gateway.clock import ManualClock, SystemClock
    from gateway.simulator import Simulator

    app = _app(clock=ManualClock(SystemClock().time()))
    script = keys.split(",") if keys is not None else None
    Simulator(
        app,
        caller=caller,
        called=called,
        echo=click.echo,
        ask=(lambda prompt: click.prompt(prompt, default="", show_default=False)),
    ).run(script)


def _app(clock: Any = None) -> Any:
    from gateway.cli import _app as build

    return build(clock)
