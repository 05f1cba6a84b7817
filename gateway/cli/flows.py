"""`deflect flows validate|schema`: check flow files and print their JSON Schema. Drafts, publishing and
rollback are `deflect content` (one lifecycle for flows and texts)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli import base
from gateway.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from gateway.flows.crosschecks import Deployment
    from gateway.flows.loader import CheckedFlow
    from gateway.flows.model import Flow
    from gateway.flows.problems import Problem


@click.group()
def flows() -> None:
    """IVR flow files: check them, print their schema (publish with `deflect content`)."""


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
    """What the flows are checked against, from the files beside them (DEFLECT_TEMPLATES_DIR,
    DEFLECT_VOICE_TEXTS_DIR) and the settings; texts that do not load are problems of their own."""
    from gateway.flows.problems import Problem
    from gateway.flows.voice_text_set import VoiceTextError, VoiceTextSet
    from gateway.messaging.templates import TemplateError, TemplateSet
    from gateway.services import deployment

    settings = base.settings()
    problems: list[Problem] = []
    templates: TemplateSet | None = None
    voice_locales: tuple[str, ...] | None = None
    try:
        templates = TemplateSet.load(settings.deflect_templates_dir)
    except TemplateError as exc:
        problems.append(Problem(str(settings.deflect_templates_dir), None, None, str(exc)))
    try:
        voice_locales = VoiceTextSet.load(settings.deflect_voice_texts_dir).locales
    except VoiceTextError as exc:
        problems += exc.problems
    return deployment(settings, templates, voice_locales), problems


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
