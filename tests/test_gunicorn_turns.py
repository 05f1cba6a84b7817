"""Under gevent, the connections of one process take turns: after each request the worker yields, so a
kept-alive connection whose next request is already waiting cannot keep the others waiting."""

from __future__ import annotations

from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.sync import SyncWorker

from gateway import gunicorn_config


def _after_request(worker_class: type[Any]) -> list[str]:
    """What another connection's greenlet got done while `post_request` ran."""
    ran: list[str] = []
    other = gevent.spawn(ran.append, "other connection served")
    gunicorn_config.post_request(worker_class.__new__(worker_class), None, {}, None)
    served = list(ran)
    other.join()
    return served


def test_a_gevent_worker_lets_the_other_connections_go_first_after_each_request() -> None:
    assert _after_request(GeventWorker) == ["other connection served"]


def test_a_sync_worker_has_no_turns_to_give() -> None:
    assert _after_request(SyncWorker) == []
