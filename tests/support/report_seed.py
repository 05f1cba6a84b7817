"""Calls for the reports' tests, written as the gateway writes them (a `calls` row and its
`call_events`) and then folded by the real fold (`Reports.refresh`), so a test knows every figure the
page must show without driving each call through Twilio's webhooks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.store.models import Call, CallEvent

_IDS = itertools.count(1)


@dataclass(frozen=True)
class Seeded:
    call_sid: str
    outcome: str


def seed_call(
    app: Any,
    started_at: datetime,
    outcome: str,
    *,
    queue: str = "cards",
    caller: str | None = None,
    flow_id: str = "bank",
    flow_version: int = 1,
    locale: str = "ru-RU",
    channel: str = "telegram",
) -> Seeded:
    """One call that reached `queue` at `started_at` + 20 s and ended as `outcome`: "deflected" (offer
    accepted, consent, SMS in 4 s, link, chat 30 s later), "agent" (declined, bridged), "abandoned"
    (offered, hung up) or "refused:<reason>" (no offer made, bridged)."""
    n = next(_IDS)
    sid = f"CA{n:032d}"
    caller = caller or f"+7916{n:07d}"
    at = started_at + timedelta(seconds=20)
    steps: list[tuple[str, dict[str, Any], float]] = [("queue.enqueued", {"queue": queue, "position": 3}, 0)]
    if outcome == "deflected":
        steps += [
            ("offer.played", {"number": 1}, 5),
            ("offer.accepted", {}, 10),
            ("consent.granted", {}, 15),
            ("sms.accepted", {"status": "accepted", "segments": 1}, 19),
            ("sms.status", {"status": "delivered"}, 25),
            ("link.clicked", {"channel": channel}, 40),
            ("chat.started", {"channel": channel, "match": "link"}, 49),
            ("queue.result", {"result": "hangup", "deflected": True, "waited_seconds": 20}, 20),
            ("call.status", {"status": "completed"}, 21),
        ]
    elif outcome == "agent":
        steps += [
            ("offer.played", {"number": 1}, 5),
            ("offer.declined", {}, 9),
            ("queue.result", {"result": "bridged", "waited_seconds": 120}, 120),
        ]
    elif outcome == "abandoned":
        steps += [
            ("offer.played", {"number": 1}, 5),
            ("queue.result", {"result": "hangup", "waited_seconds": 40}, 40),
        ]
    elif outcome.startswith("refused:"):
        steps += [
            ("offer.refused", {"reason": outcome.split(":", 1)[1], "queue": queue}, 1),
            ("queue.result", {"result": "bridged", "waited_seconds": 90}, 90),
        ]
    else:
        raise ValueError(f"no outcome {outcome!r}")
    database = app.extensions["deflect"].database
    with database.session() as session:
        session.add(
            Call(
                call_sid=sid,
                caller=caller,
                called="+74950000000",
                flow_id=flow_id,
                flow_version=flow_version,
                locale=locale,
                started_at=started_at,
                queue=queue,
            )
        )
        session.add(
            CallEvent(event_id=f"seed-{n}-start", call_sid=sid, kind="call.started", at=started_at, data={})
        )
        for index, (kind, data, after) in enumerate(steps):
            session.add(
                CallEvent(
                    event_id=f"seed-{n}-{index}",
                    call_sid=sid,
                    kind=kind,
                    at=at + timedelta(seconds=after),
                    data=data,
                )
            )
    return Seeded(sid, outcome)


def fold(app: Any) -> None:
    list(app.extensions["deflect"].reports.refresh())
