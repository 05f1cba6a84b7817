"""Webhooks Twilio will not send again, parked in Redis when the database cannot take them, and replayed
by a periodic job once it can: an inbound chat message or an SMS status is never lost to an outage.

Redis holds them only until the replay; if Redis is down too, the webhook answers 503 and says so. Under
Sentinel a parked webhook waits until a replica confirms it (`push_durably`), or the log says it did
not. One that fails on replay for a reason of its own is kept aside for a week, not written to the log.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.exc import InterfaceError, OperationalError

from gateway.store.redis import push_durably

log = logging.getLogger(__name__)

PARKED_KEY = "deflect:webhooks:parked"
# A parked webhook that fails for a reason of its own is moved here rather than logged: its form holds
# the sender's number and the message body. Kept for a week (the newest 1000) for whoever investigates.
DROPPED_KEY = "deflect:webhooks:dropped"
DROPPED_KEEP = 1000
DROPPED_SECONDS = 7 * 86400


def park(connection: redis.Redis, kind: str, params: Mapping[str, Any], received_at: float) -> None:
    entry = json.dumps({"kind": kind, "params": dict(params), "at": received_at}, ensure_ascii=False)
    if not push_durably(connection, PARKED_KEY, entry):
        log.error(
            "parked %s webhook %s waits on the Redis primary alone (no replica confirmed it): "
            "lost if it fails before replicating it",
            kind,
            _identity({"params": params}),
        )


def replay(connection: redis.Redis, handlers: Mapping[str, Callable[[dict[str, Any], float], Any]]) -> int:
    """Handle parked webhooks oldest first; stops at the first that still fails (it stays parked)."""
    done = 0
    while (raw := connection.lindex(PARKED_KEY, 0)) is not None:
        entry = json.loads(raw)
        handler = handlers.get(entry["kind"])
        if handler is None:
            log.error("parked webhook of unknown kind %r dropped (kept in %s)", entry["kind"], DROPPED_KEY)
            _keep_dropped(connection, raw)
        else:
            try:
                handler(entry["params"], entry["at"])
            except (OperationalError, InterfaceError):
                raise  # the database is still down: it stays parked, the next run tries again
            except Exception as exc:
                # Not an outage but this webhook itself: it must not block the ones behind it. Its form
                # holds the sender's number and the body, and so may the exception's text: the log names
                # the failure and where it happened; the entry is kept to reproduce it.
                log.error(
                    "parked %s webhook %s failed (%s at %s) and is dropped (kept in %s)",
                    entry["kind"],
                    _identity(entry),
                    type(exc).__name__,
                    _where(exc),
                    DROPPED_KEY,
                )
                _keep_dropped(connection, raw)
        connection.lpop(PARKED_KEY)
        done += 1
    return done


def _identity(entry: Mapping[str, Any]) -> str:
    """What tells a parked webhook apart without its content: Twilio's MessageSid."""
    params = entry.get("params")
    form = params.get("form", params) if isinstance(params, Mapping) else None
    sid = form.get("MessageSid") if isinstance(form, Mapping) else None
    return sid[:40] if isinstance(sid, str) and sid else "without a MessageSid"


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"


def _keep_dropped(connection: redis.Redis, raw: Any) -> None:
    pipe = connection.pipeline()
    pipe.rpush(DROPPED_KEY, raw)
    pipe.ltrim(DROPPED_KEY, -DROPPED_KEEP, -1)
    pipe.expire(DROPPED_KEY, DROPPED_SECONDS)
    pipe.execute()
