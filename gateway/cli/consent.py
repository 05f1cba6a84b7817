"""`deflect consent export --number ...` and `deflect consent verify`: the database only, no Redis."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gateway.cli import base


@click.group()
def consent() -> None:
    """The consent ledger."""


def _ledger() -> Any:
    from gateway.clock import SystemClock
    from gateway.deflection.ledger import ConsentLedger
    from gateway.store.content import ContentStore

    database = base.database()
    return ConsentLedger(database, ContentStore(database), SystemClock())


@consent.command("export")
@click.option("--number", required=True, help="the caller's number (any format; parsed to E.164)")
@click.option("--region", default="RU", show_default=True, help="region for numbers written without +")
@click.option("--by", default=None, help="who is exporting (default: cli:<login>), for the audit log")
def export(number: str, region: str, by: str | None) -> None:
    """Print a caller's consent and opt-out records as JSON lines (the export is audited)."""

    from gateway.phone import parse_number

    parsed = parse_number(number, default_region=region.upper())
    if parsed is None:
        raise click.BadParameter(f"{number!r} is not a valid phone number", param_hint="--number")
    records = _ledger().export(parsed.e164, actor=base.actor(by))
    for record in records:
        click.echo(json.dumps(record, ensure_ascii=False))
    if not records:
        click.echo(f"no consent records for {parsed.e164}", err=True)


@consent.command("verify")
def verify() -> None:
    """Recompute the ledger's hash chain; exits 1 if any record was changed, added or removed."""
    check = _ledger().verify()
    for problem in check.problems:
        click.echo(problem, err=True)
    if check.problems:
        sys.exit(1)
    click.echo(f"consent ledger intact: {check.records} records")
