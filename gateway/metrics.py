"""What a process counts for Prometheus as it works: webhook latency per route, TwiML fallbacks served,
offers and chats from the call events it records. The figures read when `/metrics` is scraped (queue
depths, the outbox backlog, SMS and hand-offs by status) are computed by `gateway.web.metrics`.

Each app has its own registry. Under gunicorn the values live in files in PROMETHEUS_MULTIPROC_DIR
(set up by `gateway/gunicorn_config.py` before a worker imports prometheus_client), so whichever
worker is scraped reports the sum of all of them. Labels are routes, outcomes, reasons and channels
from a fixed set, never a phone number, a message body, a CallSid or a path with an id in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, values

from gateway.events import Event

# Webhook answers, in seconds: the wait loop's target is a few milliseconds; Twilio gives up at 15 s.
WEBHOOK_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Call events that are an offer's outcome, by kind.
OFFER_OUTCOMES: Final = {
    "offer.played": "made",
    "offer.accepted": "accepted",
    "offer.declined": "declined",
    "sms.queued": "sms_queued",  # consent given: the SMS is in the outbox
}

# A label value is one of our own words (a reason, a channel); anything else is counted as "other", so
# nothing a caller typed or said can become a label.
_LABEL: Final = re.compile(r"[a-z][a-z0-9_.-]{0,39}")


def label(value: Any) -> str:
    text = str(value) if value is not None else "none"
    return text if _LABEL.fullmatch(text) else "other"


def multiprocess() -> bool:
    """Whether this process keeps its values in PROMETHEUS_MULTIPROC_DIR (decided by prometheus_client
    when it was first imported)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class Metrics:
    """The counters and histograms of one app. Every metric has labels, so none touches a file in
    PROMETHEUS_MULTIPROC_DIR before it is first counted (a worker or a command never does)."""

    def __init__(self, *, counting: bool = True) -> None:
        """`counting=False`: a test call's sandbox in the console, whose calls are not the line's
        traffic (under gunicorn every process's counts are summed from shared files)."""
        self.counting = counting
        self.registry = CollectorRegistry()
        self.webhook_seconds = Histogram(
            "deflect_webhook_duration_seconds",
            "Time to answer a Twilio voice or messaging webhook, by route (the URL rule, not the path)",
            ["route"],
            buckets=WEBHOOK_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "deflect_twiml_fallbacks",
            "Voice webhooks answered with the hold fallback TwiML because something inside failed, "
            "by route and reason (state_lost: the call's state was gone; error: Redis, the database, "
            "a flow or a bug)",
            ["route", "reason"],
            registry=self.registry,
        )
        self.offers = Counter(
            "deflect_offers",
            "Deflection offers by outcome: made (played to a caller), accepted (the caller pressed the "
            "key), declined, sms_queued (consent given, the SMS is in the outbox)",
            ["outcome"],
            registry=self.registry,
        )
        self.offer_refusals = Counter(
            "deflect_offer_refusals",
            "Offers due but not made, by the eligibility rule that refused them",
            ["reason"],
            registry=self.registry,
        )
        self.chats = Counter(
            "deflect_chats_started",
            "Chats that continued a call (matched to its session) and were handed to the agents, by channel",
            ["channel"],
            registry=self.registry,
        )

    def observe_events(self, events: Iterable[Event]) -> None:
        """Count the call events this process records (`CallLog.observe`)."""
        if not self.counting:
            return
        for event in events:
            outcome = OFFER_OUTCOMES.get(event.kind)
            if outcome is not None:
                self.offers.labels(outcome).inc()
            elif event.kind == "offer.refused":
                self.offer_refusals.labels(label(event.data.get("reason"))).inc()
            elif event.kind == "chat.started":
                self.chats.labels(label(event.data.get("channel"))).inc()
