"""`deflect tokens`: bearer tokens for the reports API (`/api/v1/reports`). A token is printed once,
when it is made; only its SHA-256 is kept. The database only, no Redis."""

from __future__ import annotations

from typing import Any

import click

from gateway.cli import base


def _tokens() -> Any:
    from gateway.clock import SystemClock
    from gateway.reporting.tokens import ApiTokens
    from gateway.store.content import ContentStore

    database = base.database()
    return ApiTokens(database, ContentStore(database), SystemClock())


class Refused(click.ClickException):
    exit_code = 1


_by = click.option(
    "--by", default=None, help="who is making the change (default: cli:<login>), for the audit log"
)
_json = click.option("--json", "as_json", is_flag=True, help="print JSON")


@click.group()
def tokens() -> None:
    """Bearer tokens of the reports API: add (printed once), list, revoke."""


@tokens.command("add")
@click.argument("name")
@_by
@_json
def add(name: str, by: str | None, as_json: bool) -> None:
    """Make a token named NAME (who or what uses it); the token is printed once, keep it now."""
    from gateway.reporting.tokens import TokenError

    try:
        token, secret = _tokens().add(name, actor=base.actor(by))
    except TokenError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    if as_json:
        base.echo_json({**token.as_json(), "token": secret})
        return
    click.echo(secret)
    base.note(f"token {token.id} ({token.name}): shown this once; send it as 'Authorization: Bearer <token>'")


@tokens.command("list")
@_json
def list_tokens(as_json: bool) -> None:
    """Every token: id, name, first characters, who made it, when it was last used, revoked or not."""
    found = _tokens().list()
    if as_json:
        base.echo_json([token.as_json() for token in found])
        return
    if not found:
        base.note("no tokens yet: deflect tokens add NAME")
    for t in found:
        used = t.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if t.last_used_at else "never used"
        state = "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d %H:%M UTC}"
        click.echo(f"{t.id:>4}  {t.prefix}…  {t.name:30} {t.created_by:24} {used:20} {state}")


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@_by
@_json
def revoke(token_id: int, by: str | None, as_json: bool) -> None:
    """Stop the token ID working, from its next request."""
    from gateway.reporting.tokens import TokenError

    try:
        token = _tokens().revoke(token_id, actor=base.actor(by))
    except TokenError as exc:
        raise Refused(str(exc)) from None
    if as_json:
        base.echo_json(token.as_json())
    else:
        click.echo(f"revoked token {token.id} ({token.name})")
