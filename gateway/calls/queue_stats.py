"""Queue figures (size, average wait) as Twilio last reported them on a waitUrl request.

Kept in Redis so every process sees them without asking Twilio's REST API on the hot path; they
are only as fresh as the last caller's wait-loop request, which is good enough for routing.

Every queued caller reports the same figures on every pass of the wait loop, so a process writes them
only when they changed, or REWRITE_SECONDS after it last wrote them: with several processes the
stored figures may then be another process's, at most that much older.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from gateway.flows.state import QueueStats

_KEY = "deflect:queues"
REWRITE_SECONDS = 5.0


class QueueStatsStore:
    def __init__(self, connection: redis.Redis) -> None:
        self.redis = connection
        # What this process last wrote for each queue: (size, average wait), when.
        self._written: dict[str, tuple[tuple[int | None, int | None], float]] = {}

    def observe(
        self, queue: str, size: int | None, avg_wait_seconds: int | None, now: float, pipeline: Any = None
    ) -> None:
        figures = (size, avg_wait_seconds)
        last = self._written.get(queue)
        if last is not None and last[0] == figures and 0 <= now - last[1] < REWRITE_SECONDS:
            return
        target = pipeline if pipeline is not None else self.redis
        target.hset(_KEY, queue, json.dumps({"size": size, "avg": avg_wait_seconds, "at": now}))
        self._written[queue] = (figures, now)

    def all(self) -> Mapping[str, QueueStats]:
        raw = self.redis.hgetall(_KEY)
        stats = {}
        for name, value in raw.items():
            data = json.loads(value)
            stats[name.decode() if isinstance(name, bytes) else name] = QueueStats(
                size=data.get("size"), avg_wait_seconds=data.get("avg")
            )
        return stats
