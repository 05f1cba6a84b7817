"""The long-lived objects of one process (database, Redis, job queue, message provider), built once.

Handlers and jobs ask for them through `services()`; nothing here reads the environment or connects
at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
from rq import Queue

from gateway.clock import Clock, SystemClock
from gateway.messaging.providers import LocalOutboxProvider, MessageProvider, TwilioProvider
from gateway.settings import Settings, SettingsError
from gateway.store import redis as redis_store
from gateway.store.db import Database

if TYPE_CHECKING:
    from gateway.deflection.limits import Limits

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    redis: redis.Redis
    queue: Queue
    provider: MessageProvider
    clock: Clock = field(default_factory=SystemClock)  # the one clock: every "now" comes from here
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Close this process's connections. A Redis server is never stopped here: only the process
        that started it (`deflect serve`) stops it."""
        self.database.dispose()
        self.redis.close()
        self.queue.connection.close()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    database = Database(settings.database_url)
    redis_url = settings.redis_url or _running_redis(settings)
    connection = redis_store.connect(redis_url)
    # RQ needs its own connection without the short webhook timeouts: a worker blocks on the queue.
    queue = Queue("default", connection=redis_store.connect(redis_url, socket_timeout=5.0))
    return Services(
        settings=settings,
        database=database,
        redis=connection,
        queue=queue,
        provider=make_provider(settings, database, clock),
        clock=clock,
    )


def _running_redis(settings: Settings) -> str:
    """REDIS_URL unset: the embedded Redis `deflect serve` started for this data directory."""
    found = redis_store.find_running(settings.deflect_data_dir)
    if found is None:
        raise redis_store.NoRedis(settings.deflect_data_dir)
    return found.url


DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def build_domain(svc: Services) -> None:
    """The call-handling objects, built once per process (flows and templates compiled here)."""
    from datetime import timedelta

    from gateway.calls.queue_stats import QueueStatsStore
    from gateway.calls.service import VoiceService
    from gateway.calls.state_store import CallStateStore
    from gateway.deflection.dialogue import DeflectionDesk
    from gateway.deflection.eligibility import Policy
    from gateway.deflection.guards import Guards
    from gateway.deflection.limits import SmsGuard
    from gateway.deflection.outbox import MessageSetup
    from gateway.deflection.sessions import ChannelAccounts
    from gateway.flows.model import Flow
    from gateway.flows.registry import FlowRegistry
    from gateway.jobs import enqueue_send
    from gateway.messaging.templates import TemplateSet
    from gateway.store.call_log import CallLog
    from gateway.store.flow_versions import FlowVersions

    settings = svc.settings
    base = settings.public_base_url or DEVELOPMENT_BASE_URL
    svc.extra["public_base"] = base
    sms_guard = SmsGuard(svc.redis, sms_limits(settings))
    svc.extra["sms_guard"] = sms_guard
    guards = Guards(
        svc.database,
        svc.redis,
        sms_guard,
        settings.deflect_retext_hours,
        settings.deflect_max_chat_backlog,
        _line_types(svc),
    )
    templates = TemplateSet.load(settings.deflect_templates_dir)
    for template in templates:
        info = template.sample.segments
        if info.segments > settings.deflect_max_segments:
            log.warning(
                "SMS template %s/%s takes %d segments (%s, %d characters); "
                "DEFLECT_MAX_SEGMENTS is %d: every SMS costs that many times",
                template.locale,
                template.name,
                info.segments,
                info.encoding,
                info.units,
                settings.deflect_max_segments,
            )
    svc.extra["templates"] = templates
    accounts = ChannelAccounts(
        settings.deflect_whatsapp_number, settings.deflect_telegram_bot, settings.deflect_viber_uri
    )
    svc.extra["accounts"] = accounts
    if not accounts.available(["whatsapp", "telegram", "viber"]):
        log.warning(
            "no messenger configured (DEFLECT_WHATSAPP_NUMBER, DEFLECT_TELEGRAM_BOT, "
            "DEFLECT_VIBER_URI): callers will not be offered a link"
        )

    def policy_for(flow: Flow) -> Policy:
        return Policy.build(
            flow.home_regions,
            settings.deflect_allowed_regions,
            settings.textable_number_types,
            settings.deflect_require_attestation,
            settings.deflect_max_chat_backlog,
        )

    setup = MessageSetup(
        templates=templates,
        accounts=accounts,
        brand=settings.deflect_brand,
        link_mode=settings.deflect_link_mode,
        link_base=base,
        session_lifetime=timedelta(hours=settings.deflect_session_hours),
    )
    desk = DeflectionDesk(
        guards, policy_for, setup, lambda outbox_id: enqueue_send(svc.queue, outbox_id), svc.database
    )
    registry = FlowRegistry(settings.deflect_flows_dir, FlowVersions(svc.database))
    missing = missing_templates(registry.current(), templates)
    if missing:
        raise SettingsError("flows name SMS templates that do not exist: " + "; ".join(missing))
    svc.extra["flows"] = registry
    svc.extra["guards"] = guards
    _build_handoff(svc)
    svc.extra["voice"] = VoiceService(
        registry,
        CallStateStore(svc.redis),
        CallLog(svc.database, svc.redis),
        QueueStatsStore(svc.redis),
        desk,
        svc.clock,
    )


def sms_limits(settings: Settings) -> Limits:
    """The SMS pumping guards' limits, from settings."""
    from gateway.deflection.limits import Limits

    return Limits(
        retext_seconds=settings.deflect_retext_hours * 3600,
        per_prefix_hour=settings.deflect_sms_per_prefix_hour,
        per_minute=settings.deflect_sms_per_minute,
        per_day=settings.deflect_sms_daily_budget,
        sender_mps=settings.deflect_sender_mps,
        per_ndc_hour=settings.deflect_sms_per_ndc_hour,
        per_ndc_day=settings.deflect_sms_per_ndc_day,
        per_country_hour=settings.deflect_sms_per_country_hour,
        per_country_day=settings.deflect_sms_per_country_day,
        per_caller_day=settings.deflect_sms_per_caller_day,
        per_keyed_number_day=settings.deflect_sms_per_keyed_number_day,
        trip_window=settings.deflect_trip_window_seconds,
        trip_per_prefix=settings.deflect_trip_per_prefix,
        trip_per_ndc=settings.deflect_trip_per_ndc,
        trip_pause=settings.deflect_trip_pause_hours * 3600,
    )


def _line_types(svc: Services) -> Any:
    from gateway.deflection.line_types import LineTypes
    from gateway.jobs import enqueue_line_type_lookup

    settings, source = svc.settings, None
    if settings.deflect_line_type_lookup != "off" and settings.twilio_enabled:
        from gateway.messaging.line_types import TwilioLineTypes
        from gateway.twilio_rest import make_client

        source = TwilioLineTypes(make_client(settings, timeout=settings.deflect_line_type_timeout))
    elif settings.deflect_line_type_lookup != "off":  # the local outbox texts nobody: no harm done
        log.info("no Twilio account: number types come from phonenumbers alone, without lookups")
    return LineTypes(
        svc.redis,
        source,
        settings.deflect_line_type_lookup,
        settings.deflect_line_type_cache_days * 86400,
        lambda number: enqueue_line_type_lookup(svc.queue, number),
    )


def _build_handoff(svc: Services) -> None:
    from gateway.handoff.dispatch import CardOnlyAdapter, HandoffRouter
    from gateway.jobs import enqueue_handoff

    settings = svc.settings
    router = HandoffRouter.from_settings(settings.deflect_handoff_adapters, settings.deflect_handoff_routes)
    names = set(router.default) | {name for names in router.routes.values() for name in names}
    adapters: dict[str, Any] = {"card": CardOnlyAdapter()}
    if "webhook" in names:
        from gateway.handoff.webhook import WebhookAdapter

        if not (settings.deflect_handoff_webhook_url and settings.deflect_handoff_webhook_secret):
            raise SettingsError("DEFLECT_HANDOFF_WEBHOOK_URL and DEFLECT_HANDOFF_WEBHOOK_SECRET are required")
        adapters["webhook"] = WebhookAdapter(
            settings.deflect_handoff_webhook_url, settings.deflect_handoff_webhook_secret, clock=svc.clock
        )
    if "conversations" in names:
        if not settings.twilio_enabled or not settings.deflect_whatsapp_number:
            raise SettingsError(
                "the conversations hand-off adapter needs TWILIO_ACCOUNT_SID and DEFLECT_WHATSAPP_NUMBER"
            )
        from gateway.handoff.conversations import ConversationsAdapter
        from gateway.twilio_rest import make_client

        adapters["conversations"] = ConversationsAdapter(
            make_client(settings),
            whatsapp_sender=settings.deflect_whatsapp_number,
            service_sid=settings.twilio_conversations_service_sid,
            sms_sender=settings.twilio_sms_from,
        )
    svc.extra["handoff_router"] = router
    svc.extra["handoff_adapters"] = adapters
    svc.extra["enqueue_handoff"] = lambda handoff_id: enqueue_handoff(svc.queue, handoff_id)


def missing_templates(flows: Any, templates: Any) -> list[str]:
    """Offers whose SMS template is missing for the flow's locale ("flow/step: ru-RU/name")."""
    from gateway.flows.model import EnqueueStep

    missing = []
    for flow in flows:
        for step_id, step in flow.steps.items():
            offer = step.wait.offer if isinstance(step, EnqueueStep) else None
            if offer is not None and (flow.locale, offer.sms_template) not in templates:
                missing.append(f"{flow.id}/{step_id}: {flow.locale}/{offer.sms_template}")
    return missing


def make_provider(settings: Settings, database: Database, clock: Clock) -> MessageProvider:
    if not settings.twilio_enabled:
        log.warning("no Twilio account configured: SMS go to the local outbox (deflect outbox list)")
        return LocalOutboxProvider(database, clock, settings.twilio_sms_from)
    from gateway.twilio_rest import make_client

    return TwilioProvider(
        make_client(settings),
        sender=settings.twilio_sms_from,
        messaging_service_sid=settings.twilio_messaging_service_sid,
    )
