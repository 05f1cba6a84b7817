"""`deflect simulate`: play a call in the terminal (gateway/simulator.py), on the running gateway's Redis
or a private one, with the SMS landing in the local outbox with a link that opens on the running gateway.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from gateway.cli import base


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

    app = _simulation_app(ManualClock(SystemClock().time()))
    script = keys.split(",") if keys is not None else None
    Simulator(
        app,
        caller=caller,
        called=called,
        echo=click.echo,
        ask=(lambda prompt: click.prompt(prompt, default="", show_default=False)),
        base_url=_link_base(app.extensions["deflect"].settings),
    ).run(script)


def _simulation_app(clock: Any) -> Any:
    """The app on the running gateway's Redis if there is one (used, left running); otherwise a
    private Redis for this one call, stopped when it ends."""
    from gateway.store.redis import EmbeddedRedis, find_running

    settings = base.settings()
    if settings.redis_url:
        return base.build_app(clock)
    found = find_running(settings.deflect_data_dir)
    if found is not None:
        base.note(f"redis     the running gateway's (process {found.owner_pid}); it keeps running")
        return base.build_app(clock)
    context = click.get_current_context()
    workdir = context.with_resource(tempfile.TemporaryDirectory(prefix="deflect-simulate-"))
    private = EmbeddedRedis(Path(workdir))
    context.call_on_close(private.shutdown)
    base.note("redis     no gateway is running: a private Redis for this call, stopped when it ends")
    return base.build_app(clock, redis_url=private.url)


def _link_base(settings: Any) -> str:
    """Where the links in the SMS point: the server that will open them."""
    from gateway.cli.serving import running_gateway
    from gateway.services import DEVELOPMENT_BASE_URL

    if settings.public_base_url:
        return str(settings.public_base_url)
    running = running_gateway(settings.deflect_data_dir)
    if running is not None:
        return running.base_url
    base.note(f"links     {DEVELOPMENT_BASE_URL} (no gateway running: `make run` serves them there)")
    return DEVELOPMENT_BASE_URL
