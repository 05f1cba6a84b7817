"""The multi-node tests: real processes on loopback (gunicorn, RQ workers, the scheduler, Redis with
Sentinel) on one PostgreSQL database. Slow (minutes), so the default suite deselects them (pyproject's
addopts); `.ci/run` runs them with `pytest -m multinode`. They never skip: without PostgreSQL or
Debian's redis-server they fail and say what is missing."""

from __future__ import annotations

import os

import pytest

from tests.support.multinode import reset_database
from tests.support.sentinel import MissingRedisServer, redis_server_binary


@pytest.fixture(scope="module")
def postgresql_url() -> str:
    """TEST_DATABASE_URL, emptied: the tests of a module own that database while they run."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.fail(
            "the multi-node tests run on PostgreSQL: set TEST_DATABASE_URL=postgresql://user@host/db "
            "(a database they may empty)"
        )
    reset_database(url)
    return url


@pytest.fixture(autouse=True)
def debian_redis_server() -> None:
    try:
        redis_server_binary()
    except MissingRedisServer as exc:
        pytest.fail(str(exc))
