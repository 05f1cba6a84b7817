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
@click.option("--json", "as_json", is_flag=True, help="list them as a JSON array")
def dead_letters_command(replay_ids: tuple[int, ...], replay_all: bool, as_json: bool) -> None:
    """List the hand-offs that failed for good, or queue them again once the platform is back."""
    from gateway.handoff.dispatch import dead_letters

    if not (replay_ids or replay_all):
        _list(dead_letters(base.database()), as_json)
        return
    _replay(set(replay_ids), replay_all)


def _list(rows: list[Any], as_json: bool) -> None:
    listed = [
        {
            "id": row.id,
            "adapter": row.adapter,
            "attempts": row.attempts,
            "updated_at": row.updated_at.isoformat(),
            # The first line only: enough to tell the failures apart, without the payload.
            "last_error": (row.last_error or "").splitlines()[0][:100] if row.last_error else "",
        }
        for row in rows
    ]
    if as_json:
        base.echo_json(listed)
        return
    if not rows:
        click.echo("no dead letters")
    for row, item in zip(rows, listed, strict=True):
        click.echo(
            f"{row.id}  {row.adapter}  attempts {row.attempts}  {row.updated_at:%Y-%m-%d %H:%M}  "
            f"{item['last_error']}"
        )


def _replay(replay_ids: set[int], replay_all: bool) -> None:
    from gateway.handoff.dispatch import dead_letters, revive
    from gateway.jobs import enqueue_handoff

    svc = base.build_app().extensions["deflect"]  # before anything changes: no Redis, no replay
    wanted = {row.id for row in dead_letters(svc.database)} if replay_all else replay_ids
    if not wanted:
        click.echo("no dead letters")
        return
    now = svc.clock.now()
    for handoff_id in sorted(wanted):
        if not revive(svc.database, handoff_id, now):
            raise click.ClickException(f"hand-off {handoff_id} is not a dead letter")
        enqueue_handoff(svc.queue, handoff_id, replay=int(now.timestamp()))
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
