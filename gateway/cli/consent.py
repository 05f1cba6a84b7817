"""`deflect consent export --number ...` and `deflect consent verify`: the database only, no Redis."""

from __future__ import annotations

import json
import sys

import click

from gateway.cli import base


@click.group()
def consent() -> None:
    """The consent ledger."""


@consent.command("export")
@click.option("--number", required=True, help="the caller's number (any format; parsed to E.164)")
@click.option("--region", default="RU", show_default=True, help="region for numbers written without +")
def export(number: str, region: str) -> None:
    """Print a caller's consent and opt-out records as JSON lines."""
    from gateway.deflection.consent import export as export_rows
    from gateway.deflection.consent import records_for
    from gateway.phone import parse_number

    parsed = parse_number(number, default_region=region.upper())
    if parsed is None:
        raise click.BadParameter(f"{number!r} is not a valid phone number", param_hint="--number")
    with base.database().session() as session:
        rows = records_for(session, parsed.e164)
        for record in export_rows(rows):
            click.echo(json.dumps(record, ensure_ascii=False))
    if not rows:
        click.echo(f"no consent records for {parsed.e164}", err=True)


@consent.command("verify")
def verify() -> None:
    """Recompute the ledger's hash chain; exits 1 if any record was changed, added or removed."""
    from sqlalchemy import select

    from gateway.deflection.consent import verify_chain
    from gateway.store.models import ConsentRecord

    with base.database().session() as session:
        rows = list(session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        problems = verify_chain(rows)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"consent ledger intact: {len(rows)} records")
