"""The embedded Redis (REDIS_URL unset) is a real server, and stopping it stops it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gateway.store.redis import EmbeddedRedis, connect


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # An exited child not yet reaped by its parent (a zombie) is not running.
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def test_embedded_redis_serves_and_stops(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path)
    client = connect(embedded.url)
    assert client.ping()
    assert embedded.url.startswith("unix://")
    pid = embedded._server.pid
    client.close()
    embedded.shutdown()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
