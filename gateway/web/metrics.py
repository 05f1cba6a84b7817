"""`/metrics` in Prometheus' text format, and the timing of every Twilio webhook.

Off (404) unless DEFLECT_METRICS_TOKEN or DEFLECT_METRICS_NETWORKS is set. With a token, a scrape must
carry `Authorization: Bearer <token>` (401 otherwise, compared in constant time); with networks, it
must come from one of them (404 otherwise); with both, both. A request relayed by a proxy that is not
trusted (TRUSTED_PROXY_COUNT=0 and an X-Forwarded-For header) is never let in by its address: the
address is the proxy's. The reverse proxy should not forward /metrics at all (docs/production.md).

A scrape reports what the web processes counted (summed over gunicorn's workers) and the figures of
the whole installation, read then from the database and Redis (`gateway.store.figures`): every web
instance reports the same installation figures, so dashboards take their max, not their sum.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Final

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.metrics import Metrics, label, multiprocess
from gateway.services import Services
from gateway.settings import Settings
from gateway.store import figures
from gateway.web.context import services

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

# The Twilio webhooks: their answers are timed, per URL rule.
TIMED_BLUEPRINTS: Final = frozenset({"voice", "messaging"})
SMS_WINDOW: Final = timedelta(hours=1)


def install(app: Flask, metrics: Metrics) -> None:
    """Time the Twilio webhooks from the first before-request hook to the end of the request."""

    def start() -> None:
        if request.blueprint in TIMED_BLUEPRINTS:
            g._metrics_started = time.perf_counter()

    app.before_request_funcs.setdefault(None, []).insert(0, start)
    by_route: dict[str, Any] = {}  # each route's histogram, looked up once (a third of an observation)

    @app.teardown_request
    def _observe(_exc: BaseException | None) -> None:
        started = g.pop("_metrics_started", None)
        rule = request.url_rule
        if started is None or rule is None:
            return
        try:  # a teardown error would replace the TwiML already made with a 500: never raise here
            route = route_label(rule.rule, request.view_args)
            histogram = by_route.get(route)
            if histogram is None:
                histogram = by_route[route] = metrics.webhook_seconds.labels(route)
            histogram.observe(time.perf_counter() - started)
        except Exception:
            log.exception("webhook not timed")


# A path part that may only be one of a few words (`<any(consent, sending):stage>`) is shown as the word.
_ANY_PART: Final = re.compile(r"<any\([^)]*\):(\w+)>")


def route_label(rule: str, view_args: dict[str, Any] | None) -> str:
    """The URL rule, with the word a closed choice took: never an open value (a step id is a flow's
    word, but an outbox id or a token is not)."""
    if "<any(" not in rule:
        return rule
    return _ANY_PART.sub(lambda part: str((view_args or {}).get(part.group(1), part.group(0))), rule)


def count_fallback(reason: str) -> None:
    """A voice webhook answered the hold fallback TwiML (`gateway.web.voice`); never raises."""
    try:
        metrics = services().metrics
        if not metrics.counting:
            return
        rule = request.url_rule
        route = route_label(rule.rule, request.view_args) if rule else "unknown"
        metrics.fallbacks.labels(route, reason).inc()
    except Exception:
        log.exception("fallback not counted")


@bp.get("/metrics")
def scrape() -> Response:
    svc = services()
    refusal = _refusal(svc.settings)
    if refusal is not None:
        return refusal
    return Response(generate_latest(scrape_registry(svc)), headers={"Content-Type": CONTENT_TYPE_LATEST})


def scrape_registry(svc: Services) -> CollectorRegistry:
    """What one scrape reports: this app's counts (or, under gunicorn, every worker's), and the
    installation's figures as they are now."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(svc.metrics.registry)
    registry.register(InstallationFigures(svc))
    return registry


class InstallationFigures:
    """A collector: the figures `gateway.store.figures` reads, at every scrape. A source that cannot be
    read (the database or Redis down) is reported as down, and its figures are left out."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "deflect_figures_up",
            "1 when this scrape could read the installation's figures from the source, 0 when not",
            labels=["source"],
        )
        try:
            yield from self._database()
            up.add_metric(["database"], 1)
        except Exception as exc:
            log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
            up.add_metric(["database"], 0)
        try:
            yield from self._redis()
            up.add_metric(["redis"], 1)
        except Exception as exc:
            log.warning("metrics: Redis figures unavailable (%s)", type(exc).__name__)
            up.add_metric(["redis"], 0)
        yield up

    def _database(self) -> list[Metric]:
        now = self.svc.clock.now()
        with self.svc.database.session() as session:
            oldest = figures.oldest_unsent(session)
            sms = figures.sms_since(session, now - SMS_WINDOW)
            handoffs = figures.waiting_handoffs(session)
        age = GaugeMetricFamily(
            "deflect_outbox_oldest_pending_age_seconds",
            "Age of the oldest SMS accepted but not sent yet (outbox rows pending or sending; 0: none)",
        )
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        recent = GaugeMetricFamily(
            "deflect_sms_last_hour",
            "SMS accepted in the last hour, by their status now and the provider's error code",
            labels=["status", "error_code"],
        )
        for status, code, count in sms:
            recent.add_metric([label(status), str(code) if code is not None else "none"], count)
        waiting = GaugeMetricFamily(
            "deflect_handoffs_waiting",
            "Hand-offs not delivered: pending (being retried) or dead (dead letters to replay)",
            labels=["adapter", "status"],
        )
        for adapter, status, count in handoffs:
            waiting.add_metric([label(adapter), label(status)], count)
        return [age, recent, waiting]

    def _redis(self) -> list[Metric]:
        depths = figures.queue_depths(self.svc.queue.connection)
        waiting = GaugeMetricFamily(
            "deflect_rq_queue_jobs", "Jobs waiting in each RQ queue (not started)", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "deflect_rq_failed_jobs",
            "Jobs in each RQ queue's failed registry (retries spent)",
            labels=["queue"],
        )
        for depth in depths:
            waiting.add_metric([depth.queue], depth.waiting)
            failed.add_metric([depth.queue], depth.failed)
        return [waiting, failed]


def _refusal(settings: Settings) -> Response | None:
    token, networks = settings.deflect_metrics_token, settings.deflect_metrics_networks
    if not token and not networks:
        return _not_found()
    if networks and not _from_networks(networks, trusted_proxies=settings.trusted_proxy_count):
        return _not_found()
    if token and not _bearer(token):
        log.warning("metrics: refused a scrape without the token", extra={"remote": request.remote_addr})
        return Response(
            "a bearer token is required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return None


def _not_found() -> Response:
    return Response("not found\n", status=404, mimetype="text/plain")


def _from_networks(networks: tuple[Any, ...], *, trusted_proxies: int) -> bool:
    if not trusted_proxies and ("X-Forwarded-For" in request.headers or "Forwarded" in request.headers):
        return False  # relayed by a proxy we do not trust to say who asked: the address is the proxy's
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _bearer(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
