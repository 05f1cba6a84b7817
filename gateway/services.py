"""The long-lived objects of one process (database, Redis, job queue, message provider), built once.

Handlers and jobs ask for them through `services()`; nothing here reads the environment or connects
at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue

from gateway.messaging.providers import LocalOutboxProvider, MessageProvider, TwilioProvider
from gateway.settings import Settings
from gateway.store import redis as redis_store
from gateway.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    redis: redis.Redis
    queue: Queue
    provider: MessageProvider
    embedded_redis: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.database.dispose()
        self.redis.close()
        if self.embedded_redis is not None:
            self.embedded_redis.shutdown()


def build_services(settings: Settings) -> Services:
    database = Database(settings.database_url)
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = redis_store.EmbeddedRedis(settings.deflect_data_dir)
        redis_url = embedded.url
    connection = redis_store.connect(redis_url)
    # RQ needs its own connection without the short webhook timeouts: a worker blocks on the queue.
    queue = Queue("default", connection=redis_store.connect(redis_url, socket_timeout=5.0))
    return Services(
        settings=settings,
        database=database,
        redis=connection,
        queue=queue,
        provider=make_provider(settings, database),
        embedded_redis=embedded,
        extra={"redis_url": redis_url},
    )


def make_provider(settings: Settings, database: Database) -> MessageProvider:
    if not settings.twilio_enabled:
        log.warning("no Twilio account configured: SMS go to the local outbox (deflect outbox list)")
        return LocalOutboxProvider(database, settings.twilio_sms_from)
    from gateway.twilio_rest import make_client

    return TwilioProvider(
        make_client(settings),
        sender=settings.twilio_sms_from,
        messaging_service_sid=settings.twilio_messaging_service_sid,
    )
