"""`deflect handoff dead-letters [--json] [--replay ID | --replay-all]`: hand-offs that kept failing;
`deflect handoff card ID`: a hand-off's context card link (not in the log: it is a bearer link).

Listing and printing read the database only; replaying queues jobs, so it needs the running gateway's
Redis."""

from __future__ import annotations

from typing import Any

import click

from gateway.cli import base


@click.group()
def handoff() -> None:
    """Chats handed to agents."""


@handoff.command("dead-letters")
@click.option("--replay", "replay_ids", multiple=True, type=int, help="send this dead letter again")
@click.option("--replay-all", is_flag=True, help="send every dead letter again")
@click.option("--by", default=None, help="who is replaying (default: cli:<login>), for the audit log")
@click.option("--json", "as_json", is_flag=True, help="list them as a JSON array")
def dead_letters_command(
    replay_ids: tuple[int, ...], replay_all: bool, by: str | None, as_json: bool
) -> None:
    """List the hand-offs that failed for good, or queue them again once the platform is back."""
    if not (replay_ids or replay_all):
        from gateway.handoff.dead_letters import listed

        _list(listed(base.database()), as_json)
        return
    _replay(set(replay_ids), replay_all, by)


def _list(rows: list[Any], as_json: bool) -> None:
    items = [
        {
            "id": row.id,
            "adapter": row.adapter,
            "attempts": row.attempts,
            "updated_at": row.updated_at.isoformat(),
            "last_error": row.last_error,  # the first line only, without the payload
        }
        for row in rows
    ]
    if as_json:
        base.echo_json(items)
        return
    if not rows:
        click.echo("no dead letters")
    for row in rows:
        click.echo(
            f"{row.id}  {row.adapter}  attempts {row.attempts}  {row.updated_at:%Y-%m-%d %H:%M}  "
            f"{row.last_error}"
        )


def _replay(replay_ids: set[int], replay_all: bool, by: str | None) -> None:

    from gateway.handoff.dead_letters import NotADeadLetter

    svc = base.build_app().extensions["deflect"]  # before anything changes: no Redis, no replay
    try:
        queued = svc.dead_letters.replay(None if replay_all else replay_ids, actor=base.actor(by))
    except NotADeadLetter as exc:
        raise click.ClickException(str(exc)) from None
    if not queued:
        click.echo("no dead letters")
    for handoff_id in queued:
        click.echo(f"hand-off {handoff_id} queued again")


@handoff.command("card")
@click.argument("handoff_id", type=int)
def card_command(handoff_id: int) -> None:
    """Print a hand-off's context card link (a bearer link: it is never written to the log)."""
    from gateway.store.models import Handoff

    with base.database().session() as session:
        row = session.get(Handoff, handoff_id)
        link = (row.payload or {}).get("context_card_url") if row is not None else None
    if not link:
        raise click.ClickException(f"hand-off {handoff_id} has no context card")
    click.echo(link)
