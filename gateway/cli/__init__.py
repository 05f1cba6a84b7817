"""The `deflect` command: serve, worker, scheduler and db here; one module per other command group
(inbox, flows, simulate, templates, messaging, consent, handoff); what they share in base.py and what
`serve` does around its processes in serving.py."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Any

import click

from gateway.cli import base
from gateway.settings import PROJECT_ROOT

log = logging.getLogger(__name__)


@click.group(cls=base.DeflectGroup)
def main() -> None:
    """Voice-to-message deflection gateway.

    Exit codes: 0 done; 1 problems found; 2 wrong usage; 69 something needed is not there (the
    running gateway's Redis, the database, a free port); 78 the configuration is wrong.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn processes")
@click.option("--job-workers", default=1, show_default=True, type=int, help="RQ worker processes")
def serve(host: str, port: int, web_workers: int, job_workers: int) -> None:
    """Run everything on one machine: web server, job workers, the periodic jobs and (if REDIS_URL is
    unset) an embedded Redis, which the other deflect commands use while it runs."""
    from gateway.cli.serving import Runtime

    settings = base.settings()
    runtime = Runtime.start(settings, host, port)
    # Children start elsewhere (gunicorn --chdir): hand them absolute locations, not relative ones.
    env = dict(
        os.environ, DEFLECT_DATA_DIR=str(settings.deflect_data_dir), DATABASE_URL=settings.database_url
    )
    env["REDIS_URL"] = runtime.redis_url
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
            process_group=0,
        )
    ]
    runtime.children = children  # stopped when the command ends, however it ends
    # Each child leads its own process group (process_group=0), so that what it starts itself (gunicorn's
    # workers, RQ's scheduler and work horses) is stopped with it, and Ctrl-C reaches `serve` alone,
    # which stops them in order and Redis last.
    children += [
        subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env, process_group=0)
        for _ in range(job_workers)
    ]
    # The periodic jobs production runs with `deflect scheduler`: the outbox sweeper, event and parked
    # webhook replay, session expiry.
    children += [
        subprocess.Popen([sys.executable, "-m", "gateway.cli", "scheduler"], env=env, process_group=0)
    ]
    _print_urls(runtime.base_url, settings.twilio_enabled)
    click.get_current_context().exit(runtime.supervise(children))


def _print_urls(base_url: str, twilio_enabled: bool) -> None:
    from gateway.jobs import PERIODIC

    jobs = ", ".join(f"{job.name} every {job.every_seconds} s" for job in PERIODIC)
    click.echo(f"scheduler {jobs}")
    click.echo("")
    click.echo(f"gateway   {base_url}   (ready when {base_url}/readyz says so)")
    click.echo("Configure these in the Twilio console (phone number > Voice / Messaging):")
    click.echo(f"  A call comes in (POST)   {base_url}/twilio/voice/incoming")
    click.echo(f"  Call status changes      {base_url}/twilio/voice/status")
    click.echo(f"  A message comes in       {base_url}/twilio/messaging/inbound")
    if not twilio_enabled:
        click.echo("No Twilio account configured: SMS are kept in the dev inbox (deflect inbox list).")
    click.echo(f"admin     {base_url}/admin/   (first user: deflect users add EMAIL --role admin)")
    click.echo("Press Ctrl-C to stop.")


@main.command()
@click.option("--burst", is_flag=True, help="work until the queue is empty, then exit")
def worker(burst: bool) -> None:
    """Run one RQ job worker with the gateway's configuration."""
    from rq import SimpleWorker

    from gateway import jobs

    svc = base.build_app(patient=True).extensions["deflect"]
    jobs.bind(svc)  # every job this worker runs uses these services, and their open connections
    # Jobs run in this process (RQ's SimpleWorker), not in a work horse forked for each job: a fork
    # cost more than the job itself, and each horse started without the pooled database and Twilio
    # connections (worse, it shared the parent's sockets). Our jobs are short and bounded by their
    # HTTP timeouts; a job that dies with the process is left to the sweeper, as with a horse.
    try:
        SimpleWorker([svc.queue], connection=svc.queue.connection).work(burst=burst, with_scheduler=True)
    finally:
        jobs.bind(None)  # its services close with the command: nothing may run jobs with them after


@main.command()
def scheduler() -> None:
    """Run the periodic jobs (outbox sweeper, event replay); one per installation is enough,
    more are harmless (every job is safe to run twice)."""
    from rq.cron import CronScheduler

    from gateway.jobs import PERIODIC

    app = base.build_app(patient=True)
    svc = app.extensions["deflect"]
    cron = CronScheduler(connection=svc.queue.connection)
    for job in PERIODIC:
        cron.register(job.func, queue_name=svc.queue.name, interval=job.every_seconds, name=job.name)
    keep_scheduling(cron)


SCHEDULER_RESTART_SECONDS = 2.0


def keep_scheduling(cron: Any) -> None:
    """Run RQ's cron scheduler until it is asked to stop. RQ's loop ends on the first Redis error; a
    Redis that is away longer than the connection's retries (a long failover, a restart) must not end
    the installation's only scheduler, so it starts again, under the same name and with the same next
    run times, once Redis answers."""
    import redis
    from rq.exceptions import StopRequested

    while True:
        try:
            cron.start()
            return  # stopped on request (SIGTERM, Ctrl-C)
        except (StopRequested, KeyboardInterrupt):  # the request came while it was registering
            return
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning(
                "scheduler lost Redis (%s); starting again in %.0f s",
                type(exc).__name__,
                SCHEDULER_RESTART_SECONDS,
            )
        try:
            time.sleep(SCHEDULER_RESTART_SECONDS)
        except (StopRequested, KeyboardInterrupt):  # RQ's signal handlers are still installed
            return


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from gateway.store.db import Database

    database = Database(base.settings().database_url)
    database.upgrade()
    applied, _ = database.migration_state()
    click.echo(f"database at revision {', '.join(sorted(applied))}")


def _register_feature_commands() -> None:
    from gateway.cli.consent import consent
    from gateway.cli.content import content
    from gateway.cli.demo import demo
    from gateway.cli.flows import flows
    from gateway.cli.handoff import handoff
    from gateway.cli.inbox import inbox, outbox
    from gateway.cli.messaging import messaging
    from gateway.cli.report import report
    from gateway.cli.simulate import simulate
    from gateway.cli.templates import templates
    from gateway.cli.tokens import tokens
    from gateway.cli.users import users

    for command in (
        content,
        inbox,
        outbox,
        flows,
        simulate,
        templates,
        messaging,
        consent,
        handoff,
        users,
        report,
        tokens,
    ):
        main.add_command(command)
    main.add_command(demo)


_register_feature_commands()
