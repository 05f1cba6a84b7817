"""`deflect serve` for real, for tests: its own data directory and a free port, its output in a file
(a pipe nobody reads would fill and stall it), and every process of its session stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.prism import free_port


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a developer's first `make run`: no Redis, database or public URL set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    for name in ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL", "SECRET_KEY", "TEST_DATABASE_URL"):
        env.pop(name, None)
    env.update(DEFLECT_DATA_DIR=str(data_dir), DEFLECT_WHATSAPP_NUMBER="+77001234567", **extra)
    return env


class Served:
    def __init__(
        self, workdir: Path, *args: str, port: int | None = None, data_dir: Path | None = None, **env: str
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir or workdir / "var"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = serve_env(self.data_dir, **env)
        self.log = workdir / "serve.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port), *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def readiness(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as response:
                return json.load(response)  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            return json.load(exc)  # type: ignore[no-any-return]
        except OSError:
            return None

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            ready = self.readiness()
            if ready is not None and ready["status"] == "ready":
                return ready
            time.sleep(0.3)
        raise AssertionError(f"serve never got ready:\n{self.output()[-3000:]}")

    def wait(self, timeout: float = 60) -> int:
        """The exit code of a serve that stops by itself (a failed start)."""
        return self.process.wait(timeout=timeout)

    def stop(self) -> int:
        """SIGTERM, as a service manager would; then its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout=30)

    def close(self) -> None:
        """Whatever happened in the test, nothing it started keeps running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.kill_leftovers()

    def leftovers(self) -> list[int]:
        """Processes still running in the session `serve` was started in (web, workers, Redis...).
        A zombie has stopped: it only waits for a parent (here, possibly an init that never reaps)."""
        found = subprocess.run(["pgrep", "-s", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split() if not _zombie(int(pid))]

    def children(self) -> list[int]:
        """The processes `serve` started itself (web server, job workers, scheduler), by their parent:
        a job worker's own fork (RQ's scheduler) runs the same command line, and once pids wrap it
        can come first in `leftovers`."""
        return [pid for pid in self.leftovers() if _parent(pid) == self.process.pid]

    def kill_leftovers(self) -> None:
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, parent, ...); None once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[-1].split()
    except OSError:
        return None


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _zombie(pid: int) -> bool:
    fields = _stat(pid)
    return fields is None or fields[0] == "Z"
