"""What every `deflect` command shares: exit codes, one-line errors, and the three ways a command gets
what it needs (settings only, the database only, or the whole app with the running gateway's Redis).

Exit codes (also in the README):
  0   done
  1   the command ran and found problems (an invalid flow, a broken consent ledger, a bad template...)
  2   wrong usage (an unknown option, a missing argument)
  69  something it needs is not there: no running gateway (Redis), the database, a free port
  78  the configuration is wrong: a setting, a flow or an SMS template the gateway would load
"""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.settings import Settings, SettingsError, load_settings

EXIT_PROBLEMS = 1
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE in sysexits.h
EXIT_CONFIG = 78  # EX_CONFIG in sysexits.h


class ConfigurationError(click.ClickException):
    exit_code = EXIT_CONFIG


class Unavailable(click.ClickException):
    exit_code = EXIT_UNAVAILABLE


def note(text: str) -> None:
    """What a person should know about how the command ran (stderr: stdout stays for the result)."""
    click.echo(text, err=True)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def actor(by: str | None) -> str:
    """Who the audit log names for a change made at the command line: `--by`, else cli:<login>."""
    import getpass

    return by or f"cli:{getpass.getuser()}"


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise ConfigurationError(f"configuration error: {exc}") from None


def database() -> Any:
    """The database alone: for commands that only read or write rows. No Redis is started or
    touched, so they run the same with the gateway up or down."""
    from gateway.store.db import Database

    db = Database(settings().database_url)
    _on_close(db.dispose)
    return db


def build_app(
    clock: Any = None, *, redis_url: str | None = None, queue_name: str = "default", patient: bool = False
) -> Any:
    """The whole app, for commands that need Redis: `redis_url`, REDIS_URL or REDIS_SENTINELS, or else
    the Redis of the gateway running with this data directory (used, never stopped: it is not ours).
    Without any, NoRedis: the command ends with exit code 69 and says what to start. `patient`: the
    worker and the scheduler, whose Redis calls ride out a Sentinel failover."""
    from gateway.app import create_app

    config = {"REDIS_URL": redis_url} if redis_url else None
    app = create_app(config, clock=clock, queue_name=queue_name, patient=patient)
    _on_close(app.extensions["deflect"].close)
    return app


def _on_close(callback: Any) -> None:
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(callback)


def _one_line(exc: BaseException) -> BaseException:
    """A known failure as one line with a meaningful exit code; anything else unchanged (a bug)."""
    import redis
    from sqlalchemy.exc import DBAPIError

    from gateway.flows.loader import FlowError, format_problem
    from gateway.messaging.templates import TemplateError
    from gateway.store.db import SchemaRefused
    from gateway.store.redis import EmbeddedRedisError, NoRedis

    if isinstance(exc, click.ClickException):
        return exc
    if isinstance(exc, SettingsError):
        return ConfigurationError(f"configuration error: {exc}")
    if isinstance(exc, FlowError):
        problems = "\n".join(format_problem(p) for p in exc.problems)
        return ConfigurationError(f"the IVR flows have problems:\n{problems}")
    if isinstance(exc, TemplateError):
        return ConfigurationError(f"the SMS templates have a problem: {exc}")
    if isinstance(exc, SchemaRefused):
        return click.ClickException(str(exc))  # exit 1: the data has problems a person must settle
    if isinstance(exc, NoRedis | EmbeddedRedisError):
        return Unavailable(str(exc))
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return Unavailable(f"Redis cannot be reached: {_first_line(exc)}")
    if isinstance(exc, DBAPIError):
        # Only the driver's first line: the rest may hold SQL parameters (numbers, texts).
        text = _first_line(exc.orig)
        hint = " (run `deflect db upgrade`)" if "no such table" in text or "does not exist" in text else ""
        return Unavailable(f"the database cannot be used: {text}{hint}")
    return exc


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


class DeflectGroup(click.Group):
    """Known failures of any command end as one line and an exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            mapped = _one_line(exc)
            if mapped is exc:
                raise
            raise mapped from None
