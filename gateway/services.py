"""The long-lived objects of one process, built once from the settings: connections (database, Redis, the
job queue), the message provider, the compiled flows and texts, and the domain's services with their
collaborators. A typed object with a named field per service: views get it from `gateway.web.context`,
jobs from the process they run in (`gateway.jobs.bind`), commands from `gateway.cli.base`.

Nothing here reads the environment or connects at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import redis
from rq import Queue
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from gateway import jobs
from gateway.calls.queue_stats import QueueStatsStore
from gateway.calls.service import VoiceService
from gateway.calls.state_store import CallStateStore
from gateway.channels import CHANNELS
from gateway.clock import Clock, SystemClock
from gateway.content.kinds import FlowKind, Kind, SmsKind, VoiceKind
from gateway.content.registry import ContentRegistry, LiveVoiceTexts
from gateway.content.service import ContentService, Outcome
from gateway.deflection.accept import MessageSetup, OfferAcceptance
from gateway.deflection.chats import ChannelAccounts
from gateway.deflection.dialogue import Dialogue
from gateway.deflection.eligibility import Policy
from gateway.deflection.guards import Guards
from gateway.deflection.ledger import ConsentLedger
from gateway.deflection.limits import Limits, SmsGuard
from gateway.deflection.line_types import LineTypes
from gateway.deflection.offer import OfferDecision
from gateway.deflection.switch import OffersSwitch
from gateway.flows.crosschecks import Deployment, missing_texts, unconfigured_channels, unused_queues
from gateway.flows.loader import CheckedFlow
from gateway.flows.model import Flow
from gateway.flows.problems import format_problem
from gateway.handoff.base import HandoffAdapter
from gateway.handoff.card import CardLinks
from gateway.handoff.dead_letters import DeadLetters
from gateway.handoff.dispatch import CardOnlyAdapter, HandoffRouter
from gateway.handoff.finder import AGENT_LOOKUPS, AGENT_WINDOW_SECONDS, ChatFinder
from gateway.handoff.inbound import Acknowledgement, InboundChats
from gateway.handoff.lookups import AGENT_KEY_PREFIX, LookupLimiter
from gateway.messaging.providers import DevInboxProvider, MessageProvider, TwilioProvider
from gateway.messaging.templates import TemplateSet
from gateway.metrics import Metrics
from gateway.reporting.facts import Windows
from gateway.reporting.figures import Costs
from gateway.reporting.service import Reports
from gateway.reporting.tokens import ApiTokens
from gateway.settings import Settings, SettingsError
from gateway.store import redis as redis_store
from gateway.store.audit import AuditLog
from gateway.store.call_log import CallLog
from gateway.store.content import ContentStore
from gateway.store.db import Database
from gateway.users.service import Users

log = logging.getLogger(__name__)

DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


@dataclass
class Services:
    settings: Settings
    clock: Clock  # the one clock: every "now" comes from here
    database: Database
    redis: redis.Redis
    queue: Queue
    provider: MessageProvider  # where an SMS leaves: Twilio, or the dev inbox
    public_base: str  # where callers and agents reach us: PUBLIC_BASE_URL, or development's default
    content: ContentService  # drafts, versions, publish, rollback, import, export: one API for all
    registry: ContentRegistry  # the content in service in this process (flows, texts), followed live
    accounts: ChannelAccounts  # the messengers a chat may continue in
    guards: Guards  # eligibility facts, SMS pumping guards, line types, the messaging pause
    call_log: CallLog
    voice: VoiceService  # where a call runs
    inbound: InboundChats  # where a chat is received and matched
    handoff_adapters: Mapping[str, HandoffAdapter]
    users: Users  # who may sign in to the admin console, with which role
    ledger: ConsentLedger  # a number's consent and opt-out, the ledger's check, opt-outs by an admin
    dead_letters: DeadLetters  # hand-offs that kept failing, and their replay
    chats: ChatFinder  # agents find a chat's context card by reference or the number's last digits
    audit_log: AuditLog  # every change, read back: filtered, a page at a time or exported
    metrics: Metrics  # what this process counts for Prometheus (/metrics)
    reports: Reports  # the funnel, gross and net deflection, refusals, experiments, exports
    tokens: ApiTokens  # bearer tokens of the reports API: made, listed, revoked (CLI, console), checked

    def close(self) -> None:
        """Close this process's connections. A Redis server is never stopped here: only the process
        that started it (`deflect serve`) stops it."""
        self.database.dispose()
        redis_store.close(self.redis)
        redis_store.close(self.queue.connection)


def build_services(
    settings: Settings,
    clock: Clock | None = None,
    *,
    queue_name: str = "default",
    patient: bool = False,
    counted: bool = True,
) -> Services:
    """Everything one process needs, connected and compiled; a broken flow or text fails here.
    `queue_name`: where this process's jobs go (the simulator keeps its own and runs them itself).
    `patient`: a worker or the scheduler, whose Redis calls ride out a Sentinel failover; a web
    process's fail fast, and the caller gets the hold fallback. `counted=False`: a test call's
    sandbox, whose calls are not counted in /metrics."""
    clock = clock or SystemClock()
    database = Database(settings.database_url)
    where = redis_location(settings)
    connection = redis_store.connect(where, patient=patient)
    # RQ needs its own connection without the short webhook timeouts: a worker blocks on the queue.
    queue = Queue(queue_name, connection=redis_store.connect(where, socket_timeout=5.0, patient=patient))
    try:
        return _build(settings, clock, database, connection, queue, counted)
    except BaseException:
        database.dispose()
        redis_store.close(connection)
        redis_store.close(queue.connection)
        raise


def _build(
    settings: Settings,
    clock: Clock,
    database: Database,
    connection: redis.Redis,
    queue: Queue,
    counted: bool = True,
) -> Services:
    public_base = public_base_url(settings)
    store = ContentStore(database)
    kinds = content_kinds(settings)
    content = ContentService(store, kinds, clock, four_eyes=settings.deflect_admin_four_eyes)
    start_content(content, settings)
    registry = ContentRegistry(store, kinds)
    warn_about_segments(registry.templates(), settings.deflect_max_segments)
    voice_texts = LiveVoiceTexts(registry)
    accounts = channel_accounts(settings)
    metrics = Metrics(counting=counted)
    call_log = CallLog(database, connection, observe=metrics.observe_events)
    guards = Guards(
        database,
        connection,
        SmsGuard(connection, sms_limits(settings)),
        settings.deflect_retext_hours,
        settings.deflect_max_chat_backlog,
        line_types(settings, connection, queue),
        OffersSwitch(store, connection, clock),
    )
    spoken = registry.voice_texts()
    check_flows_in_service(
        registry.flows_if_any(), deployment(settings, registry.templates(), spoken.locales if spoken else ())
    )
    setup = message_setup(settings)

    def policy_for(flow: Flow) -> Policy:
        return policy(settings, flow)

    dialogue = Dialogue(
        OfferDecision(guards, policy_for, accounts, voice_texts),
        OfferAcceptance(
            guards,
            policy_for,
            setup,
            registry.sms,
            lambda outbox_id: jobs.enqueue_send(queue, outbox_id),
            database,
        ),
        database,
        voice_texts,
    )
    voice = VoiceService(
        registry,
        CallStateStore(connection),
        call_log,
        QueueStatsStore(connection),
        dialogue,
        clock,
        test_callers=settings.deflect_test_callers,
    )
    cards = CardLinks(public_base, settings.secret_key, clock)
    inbound = InboundChats(
        database,
        call_log,
        HandoffRouter(settings.deflect_handoff_adapters, settings.deflect_handoff_routes),
        LookupLimiter(
            connection, settings.deflect_chat_lookup_limit, settings.deflect_chat_lookup_window_minutes * 60
        ),
        Acknowledgement(registry.templates, settings.deflect_brand),
        cards,
        lambda handoff_id: jobs.enqueue_handoff(queue, handoff_id),
    )
    return Services(
        settings=settings,
        clock=clock,
        reports=reports(settings, database, clock),
        tokens=ApiTokens(database, store, clock),
        database=database,
        redis=connection,
        queue=queue,
        provider=make_provider(settings, database, clock),
        public_base=public_base,
        content=content,
        registry=registry,
        accounts=accounts,
        guards=guards,
        call_log=call_log,
        voice=voice,
        inbound=inbound,
        handoff_adapters=handoff_adapters(settings, clock),
        users=Users(database, connection, store, clock),
        ledger=ConsentLedger(database, store, clock),
        dead_letters=DeadLetters(
            database,
            store,
            clock,
            lambda handoff_id, replay: jobs.enqueue_handoff(queue, handoff_id, replay=replay),
        ),
        chats=ChatFinder(
            database,
            LookupLimiter(connection, AGENT_LOOKUPS, AGENT_WINDOW_SECONDS, prefix=AGENT_KEY_PREFIX),
            cards,
            store,
            clock,
        ),
        audit_log=AuditLog(database),
        metrics=metrics,
    )


def redis_location(settings: Settings) -> redis_store.RedisLocation:
    """REDIS_URL, or the sentinels of REDIS_SENTINELS, or else the embedded Redis `deflect serve`
    started for this data directory (NoRedis when it is not running)."""
    configured = configured_redis(settings)
    if configured is not None:
        return configured
    found = redis_store.find_running(settings.deflect_data_dir)
    if found is None:
        raise redis_store.NoRedis(settings.deflect_data_dir)
    return found.url


def configured_redis(settings: Settings) -> redis_store.RedisLocation | None:
    """The Redis the settings name (REDIS_URL or REDIS_SENTINELS), if any."""
    if settings.redis_sentinels:
        assert settings.redis_sentinel_master, "load_settings requires it with REDIS_SENTINELS"
        return redis_store.Sentinels(
            settings.redis_sentinels,
            settings.redis_sentinel_master,
            password=settings.redis_password,
            sentinel_password=settings.redis_sentinel_password,
        )
    return settings.redis_url


def start_content(content: ContentService, settings: Settings) -> None:
    """An empty store starts from the shipped files (a file with problems stops the start-up, naming
    them). With the database down the process starts anyway: calls get the fallback queue until the
    registry can read the content."""
    directories = content_directories(settings)
    try:
        outcomes = _import_beside_others(content, directories)
    except (OperationalError, InterfaceError) as exc:
        log.warning("content not imported now (%s); the registry keeps checking", type(exc).__name__)
        return
    for kind, setting, what in CONTENT_FILES:
        problems = [p for outcome in outcomes if outcome.kind == kind for p in outcome.problems]
        if problems:
            where = [f"{directories[kind] / problem}" for problem in problems]
            raise SettingsError(f"{setting}: {what} have problems:\n" + "\n".join(where))


def _import_beside_others(content: ContentService, directories: dict[str, Path]) -> list[Outcome]:
    """`ensure_imported`, looked at once more when another process stored first. gunicorn starts its
    workers together: on a new database each finds the store empty, and all but one hit a unique
    version 1 (IntegrityError). The import is one transaction, so the second look finds the whole
    set the winner stored, and imports nothing (or raises what is not this race)."""
    try:
        return content.ensure_imported(directories)
    except IntegrityError:
        log.info("another process imported the shipped content first; looking again")
        return content.ensure_imported(directories)


CONTENT_FILES = (  # kind, the setting naming its directory, what a person calls it
    ("sms", "DEFLECT_TEMPLATES_DIR", "the SMS texts"),
    ("voice", "DEFLECT_VOICE_TEXTS_DIR", "the voice texts"),
    ("flow", "DEFLECT_FLOWS_DIR", "the IVR flows"),
)


def content_kinds(settings: Settings) -> dict[str, Kind]:
    """The kinds of content this installation keeps, texts before the flows that use them."""
    return {
        "sms": SmsKind(settings.deflect_templates_dir),
        "voice": VoiceKind(settings.deflect_voice_texts_dir),
        "flow": FlowKind(settings.deflect_flows_dir),
    }


def content_directories(settings: Settings) -> dict[str, Path]:
    """Where each kind's files are imported from and exported to, texts first."""
    return {name: kind.directory for name, kind in content_kinds(settings).items()}


def warn_about_segments(templates: TemplateSet, max_segments: int) -> None:
    """A text over DEFLECT_MAX_SEGMENTS is worth a warning: every SMS costs that many times."""
    for template in templates:
        info = template.sample.segments
        if info.segments > max_segments:
            log.warning(
                "SMS template %s/%s takes %d segments (%s, %d characters); "
                "DEFLECT_MAX_SEGMENTS is %d: every SMS costs that many times",
                template.locale,
                template.name,
                info.segments,
                info.encoding,
                info.units,
                max_segments,
            )


def public_base_url(settings: Settings) -> str:
    """Where callers and agents reach us: PUBLIC_BASE_URL, or where `make run` serves in development."""
    return settings.public_base_url or DEVELOPMENT_BASE_URL


def message_setup(settings: Settings) -> MessageSetup:
    """What composing an offer's SMS needs from the settings: the acceptance's, and the one
    `deflect templates preview` composes with, so a preview is what would be sent."""
    return MessageSetup(
        accounts=_accounts(settings),
        brand=settings.deflect_brand,
        link_mode=settings.deflect_link_mode,
        link_base=public_base_url(settings),
        session_lifetime=timedelta(hours=settings.deflect_session_hours),
    )


def channel_accounts(settings: Settings) -> ChannelAccounts:
    accounts = _accounts(settings)
    if not accounts.available(["whatsapp", "telegram", "viber"]):
        log.warning(
            "no messenger configured (DEFLECT_WHATSAPP_NUMBER, DEFLECT_TELEGRAM_BOT, "
            "DEFLECT_VIBER_URI): callers will not be offered a link"
        )
    return accounts


def _accounts(settings: Settings) -> ChannelAccounts:
    return ChannelAccounts(
        settings.deflect_whatsapp_number, settings.deflect_telegram_bot, settings.deflect_viber_uri
    )


def policy(settings: Settings, flow: Flow) -> Policy:
    """The eligibility rules in force for one flow."""
    return Policy.build(
        flow.home_regions,
        settings.deflect_allowed_regions,
        settings.deflect_number_types,
        settings.deflect_require_attestation,
        settings.deflect_max_chat_backlog,
    )


def sms_limits(settings: Settings) -> Limits:
    """The SMS pumping guards' limits, from settings."""
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


def line_types(settings: Settings, connection: redis.Redis, queue: Queue) -> LineTypes:
    """Number types beyond what phonenumbers can tell: Twilio Lookup, cached (DEFLECT_LINE_TYPE_LOOKUP)."""
    source = None
    if settings.deflect_line_type_lookup != "off" and settings.twilio_enabled:
        from gateway.messaging.line_types import TwilioLineTypes
        from gateway.twilio_rest import make_client

        source = TwilioLineTypes(make_client(settings, timeout=settings.deflect_line_type_timeout))
    elif settings.deflect_line_type_lookup != "off":  # the dev inbox texts nobody: no harm done
        log.info("no Twilio account: number types come from phonenumbers alone, without lookups")
    return LineTypes(
        connection,
        source,
        settings.deflect_line_type_lookup,
        settings.deflect_line_type_cache_days * 86400,
        lambda number: jobs.enqueue_line_type_lookup(queue, number),
    )


def handoff_adapters(settings: Settings, clock: Clock) -> dict[str, HandoffAdapter]:
    """The agent platforms the default list and the routes name (the card is always there)."""
    names = settings.handoff_adapters_named
    adapters: dict[str, HandoffAdapter] = {"card": CardOnlyAdapter()}
    if "webhook" in names:
        from gateway.handoff.webhook import WebhookAdapter

        url, secret = settings.deflect_handoff_webhook_url, settings.deflect_handoff_webhook_secret
        assert url and secret, "load_settings refuses the webhook adapter without its URL and secret"
        adapters["webhook"] = WebhookAdapter(url, secret, clock=clock)
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
    return adapters


def deployment(
    settings: Settings, templates: TemplateSet | None, voice_locales: Iterable[str] | None
) -> Deployment:
    """What flows are checked against: the SMS texts and the locales of the voice texts (None: not
    checked), the configured messengers and the hand-off routes."""
    accounts = _accounts(settings)
    sms = None if templates is None else {loc: frozenset(templates.names(loc)) for loc in templates.locales}
    return Deployment(
        sms_templates=sms,
        voice_locales=None if voice_locales is None else frozenset(voice_locales),
        channels=frozenset(accounts.available(list(CHANNELS))),
        handoff_routes=tuple(settings.deflect_handoff_routes),
    )


def check_flows_in_service(flows: Iterable[Flow], deployment: Deployment) -> None:
    """Start-up refuses flows whose texts do not exist (a caller would get no SMS); an offered messenger
    that is not configured, or a queue nothing enqueues to, is worth a warning: the gateway still
    works, without that messenger or that rule (`deflect flows validate` calls them problems)."""
    checked = [CheckedFlow.of(flow) for flow in flows]
    missing = missing_texts(checked, deployment)
    if missing:
        raise SettingsError(
            "flows name texts that do not exist: " + "; ".join(format_problem(p) for p in missing)
        )
    for problem in unconfigured_channels(checked, deployment) + unused_queues(checked, deployment):
        log.warning("%s", format_problem(problem))


def make_provider(settings: Settings, database: Database, clock: Clock) -> MessageProvider:
    if not settings.twilio_enabled:
        log.warning("no Twilio account configured: SMS go to the dev inbox (deflect inbox list)")
        return DevInboxProvider(database, clock, settings.twilio_sms_from)
    from gateway.twilio_rest import make_client

    return TwilioProvider(
        make_client(settings),
        sender=settings.twilio_sms_from,
        messaging_service_sid=settings.twilio_messaging_service_sid,
    )


def reports(settings: Settings, database: Database, clock: Clock) -> Reports:
    short, long = settings.deflect_recontact_windows
    costs = Costs(
        agent_minute=settings.deflect_report_agent_minute_cost,
        sms_segment=settings.deflect_report_sms_segment_cost,
        handle_minutes=settings.deflect_report_handle_minutes,
        currency=settings.deflect_report_currency,
    )
    return Reports(database, clock, Windows(short, long), costs, settings.deflect_report_timezone)
