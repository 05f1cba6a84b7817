"""`deflect scheduler` outlives a Redis outage: RQ's cron loop ends on the first Redis error, and the
installation's only scheduler must not end with it. It starts again, under the same name, once Redis
answers, and still stops on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rq.cron import CronScheduler, get_cron_job_ids

from gateway.cli import keep_scheduling
from gateway.jobs import flush_events
from gateway.store.redis import close, connect
from tests.support.servers import RedisServer


def _until(check: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("not within the time allowed")
        time.sleep(0.05)


def _names(server: RedisServer) -> list[str]:
    client = connect(server.url)
    try:
        return [scheduler.name for scheduler in CronScheduler.all(client)]
    except Exception:
        return []
    finally:
        close(client)


def _enqueued(server: RedisServer) -> list[str]:
    client = connect(server.url)
    try:
        return list(get_cron_job_ids("tick", client))
    except Exception:
        return []
    finally:
        close(client)


def test_the_scheduler_starts_again_when_redis_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    client = connect(server.url)
    cron = CronScheduler(connection=client, name="deflect-test-cron")
    cron.register(flush_events, queue_name="cron-test", interval=1, name="tick")
    seen: dict[str, object] = {}

    def outage_then_stop() -> None:
        try:
            _until(lambda: _enqueued(server))
            server.stop()  # no persistence: the Redis that comes back is empty
            _until(lambda: "scheduler lost Redis" in caplog.text)
            server.start()
            _until(lambda: _names(server) == ["deflect-test-cron"] and _enqueued(server))
            seen["after"] = _names(server)
        except Exception as exc:  # said by the test below, not lost in this thread
            seen["error"] = exc
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # as a service manager stops it

    handlers = {name: signal.getsignal(name) for name in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=outage_then_stop)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.cli"):
            thread.start()
            keep_scheduling(cron)
        thread.join(timeout=30)
        assert "error" not in seen, seen
        assert seen["after"] == ["deflect-test-cron"]  # the same scheduler, registered again
        assert _names(server) == []  # and it stopped cleanly on SIGTERM (registered its death)
    finally:
        for name, handler in handlers.items():
            signal.signal(name, handler)
        close(client)
        server.stop()
