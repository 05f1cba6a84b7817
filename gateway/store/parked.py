"""Webhooks Twilio will not send again, parked in Redis when the database cannot take them, and replayed
by a periodic job once it can: an inbound chat message or an SMS status is never lost to an outage.

Redis holds them only until the replay; if Redis is down too, the webhook answers 503 and says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import redis
from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

PARKED_KEY = "deflect:webhooks:parked"


def park(connection: redis.Redis, kind: str, params: Mapping[str, Any], received_at: float) -> None:
    connection.rpush(
        PARKED_KEY, json.dumps({"kind": kind, "params": dict(params), "at": received_at}, ensure_ascii=False)
    )


def replay(connection: redis.Redis, handlers: Mapping[str, Callable[[dict[str, Any], float], Any]]) -> int:
    """Handle parked webhooks oldest first; stops at the first that still fails (it stays parked)."""
    done = 0
    while (raw := connection.lindex(PARKED_KEY, 0)) is not None:
        entry = json.loads(raw)
        handler = handlers.get(entry["kind"])
        if handler is None:
            log.error("parked webhook of unknown kind %r dropped", entry["kind"])
        else:
            try:
                handler(entry["params"], entry["at"])
            except (OperationalError, InterfaceError):
                raise  # the database is still down: it stays parked, the next run tries again
            except Exception:
                # Not an outage but this webhook itself: it must not block the ones behind it.
                log.exception("parked %s webhook failed and is dropped: %s", entry["kind"], raw[:500])
        connection.lpop(PARKED_KEY)
        done += 1
    return done
