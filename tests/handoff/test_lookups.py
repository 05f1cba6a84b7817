"""Failed lookups per chat sender, on a real Redis: counted per sender in windows of the gateway's clock,
and never in the way of a chat when Redis is unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from gateway.handoff.lookups import LookupLimiter
from gateway.store.redis import connect
from tests.support.prism import free_port
from tests.support.servers import RedisServer

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def connection(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_a_sender_is_limited_after_its_failures_and_free_again_in_the_next_window(
    connection: redis.Redis,
) -> None:
    lookups = LookupLimiter(connection, limit=3, window_seconds=3600)
    for _ in range(3):
        assert not lookups.limited("tg:1", NOW)
        lookups.failed("tg:1", NOW)
    assert lookups.limited("tg:1", NOW)
    assert lookups.limited("tg:1", NOW + timedelta(minutes=59))
    assert not lookups.limited("tg:2", NOW)  # per sender
    assert not lookups.limited("tg:1", NOW + timedelta(hours=1))


def test_keys_hold_no_sender_address(connection: redis.Redis) -> None:
    LookupLimiter(connection, limit=3, window_seconds=3600).failed("whatsapp:+79161234567", NOW)
    [key] = connection.keys("deflect:chat:lookups:*")
    assert b"79161234567" not in key
    assert 0 < connection.ttl(key) <= 7200


def test_unreachable_redis_never_blocks_a_chat() -> None:
    dead = connect(f"redis://127.0.0.1:{free_port()}/0")  # as the gateway connects, nobody listening
    lookups = LookupLimiter(dead, limit=1, window_seconds=60)
    lookups.failed("tg:1", NOW)
    assert not lookups.limited("tg:1", NOW)
