"""`deflect inbox list [--json]`: the SMS the dev inbox kept instead of sending (no Twilio account).

Reads the database only: it starts no Redis and works the same with the gateway running or not.
"""

from __future__ import annotations

import re

import click

from gateway.cli import base

_LINK = re.compile(r"https?://\S+")


@click.group()
def inbox() -> None:
    """The dev inbox (messages kept instead of sent when no Twilio account is configured)."""


@click.group(hidden=True)
def outbox() -> None:
    """The dev inbox's old name (`deflect outbox list`), kept for scripts written before."""


@inbox.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="a JSON array, newest first, with each message's links")
def inbox_list(limit: int, as_json: bool) -> None:
    """Show the newest messages in the dev inbox."""
    from sqlalchemy import select

    from gateway.store.models import DevInboxMessage

    with base.database().session() as session:
        rows = session.scalars(select(DevInboxMessage).order_by(DevInboxMessage.id.desc()).limit(limit)).all()
        messages = [
            {
                "id": row.id,
                "sid": row.sid,
                "to": row.to,
                "body": row.body,
                "links": _LINK.findall(row.body),
                "created_at": row.created_at,
            }
            for row in rows
        ]
    if as_json:
        base.echo_json([{**m, "created_at": m["created_at"].isoformat()} for m in messages])
        return
    if not messages:
        click.echo("the dev inbox is empty")
    for m in messages:
        click.echo(f"{m['created_at']:%Y-%m-%d %H:%M:%S}  {m['sid']}  to {m['to']}\n  {m['body']}\n")


outbox.add_command(inbox_list)
