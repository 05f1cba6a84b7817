"""Queue figures (size, average wait) as Twilio last reported them on a waitUrl request.

Kept in Redis so every process sees them without asking Twilio's REST API on the hot path; they
are only as fresh as the last caller's wait-loop request, which is good enough for routing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from gateway.flows.state import QueueStats

_KEY = "deflect:queues"


class QueueStatsStore:
    def __init__(self, connection: redis.Redis) -> None:
        self.redis = connection

    def observe(
        self, queue: str, size: int | None, avg_wait_seconds: int | None, now: float, pipeline: Any = None
    ) -> None:
        target = pipeline if pipeline is not None else self.redis
        target.hset(_KEY, queue, json.dumps({"size": size, "avg": avg_wait_seconds, "at": now}))

    def all(self) -> Mapping[str, QueueStats]:
        raw = self.redis.hgetall(_KEY)
        stats = {}
        for name, value in raw.items():
            data = json.loads(value)
            stats[name.decode() if isinstance(name, bytes) else name] = QueueStats(
                size=data.get("size"), avg_wait_seconds=data.get("avg")
            )
        return stats
