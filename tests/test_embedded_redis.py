"""The embedded Redis (REDIS_URL unset) is a real server, owned by the process that started it: only
that process stops it; every other process of the installation finds it and uses it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.store.redis import EmbeddedRedis, NoRedis, connect, find_running, forget, record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # An exited child not yet reaped by its parent (a zombie) is not running.
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def test_embedded_redis_serves_and_stops(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path)
    client = connect(embedded.url)
    assert client.ping()
    assert embedded.url.startswith("unix://")
    pid = embedded.pid
    client.close()
    embedded.shutdown()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_a_deep_data_directory_still_gets_its_embedded_redis(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 4)  # too long for a socket path
    embedded = EmbeddedRedis(deep)
    try:
        assert connect(embedded.url).ping()
    finally:
        embedded.shutdown()


@pytest.fixture
def settings_without_redis(base_config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in base_config.items() if k != "REDIS_URL"}


def test_an_app_without_redis_url_uses_the_gateways_redis_and_never_stops_it(
    settings_without_redis: dict[str, Any],
) -> None:
    data_dir = Path(settings_without_redis["DEFLECT_DATA_DIR"])
    gateway = EmbeddedRedis(data_dir)
    record(data_dir, gateway)
    try:
        app = create_app(settings_without_redis, environ={})
        services = app.extensions["deflect"]
        assert services.redis.ping()
        services.close()
        assert find_running(data_dir) is not None  # still there for the gateway and everyone else
    finally:
        forget(data_dir, gateway)
        gateway.shutdown()
    assert find_running(data_dir) is None


def test_an_app_without_redis_url_and_no_gateway_says_what_to_start(
    settings_without_redis: dict[str, Any],
) -> None:
    with pytest.raises(NoRedis, match=r"no gateway is running .*`deflect serve`.*REDIS_URL"):
        create_app(settings_without_redis, environ={})
