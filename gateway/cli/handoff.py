"""`deflect handoff dead-letters [--replay ID | --replay-all]`: hand-offs that kept failing; `deflect
handoff card ID`: a hand-off's context card link (not in the log: it is a bearer link)."""

from __future__ import annotations

import click


@click.group()
def handoff() -> None:
    """Chats handed to agents."""


@handoff.command("dead-letters")
@click.option("--replay", "replay_ids", multiple=True, type=int, help="send this dead letter again")
@click.option("--replay-all", is_flag=True, help="send every dead letter again")
def dead_letters_command(replay_ids: tuple[int, ...], replay_all: bool) -> None:
    """List the hand-offs that failed for good, or queue them again once the platform is back."""
    from gateway.cli import _app
    from gateway.handoff.dispatch import dead_letters, revive
    from gateway.jobs import enqueue_handoff

    svc = _app().extensions["deflect"]
    rows = dead_letters(svc.database)
    wanted = {row.id for row in rows} if replay_all else set(replay_ids)
    if not wanted:
        if not rows:
            click.echo("no dead letters")
        for row in rows:
            error = (row.last_error or "").splitlines()[0][:100] if row.last_error else ""
            click.echo(
                f"{row.id}  {row.adapter}  attempts {row.attempts}  {row.updated_at:%Y-%m-%d %H:%M}  {error}"
            )
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
    from gateway.cli import _app
    from gateway.store.models import Handoff

    svc = _app().extensions["deflect"]
    with svc.database.session() as session:
        row = session.get(Handoff, handoff_id)
        link = (row.payload or {}).get("context_card_url") if row is not None else None
    if not link:
        raise click.ClickException(f"hand-off {handoff_id} has no context card")
    click.echo(link)
