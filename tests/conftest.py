"""Shared fixtures: a real Redis server, a real database (SQLite, or PostgreSQL with
TEST_DATABASE_URL), the app and its client, and Prism serving Twilio's OpenAPI description."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData
from sqlalchemy.exc import OperationalError

from gateway.app import create_app
from gateway.clock import ManualClock
from gateway.store.db import Database
from gateway.store.models import Base
from tests.support import prism
from tests.support.calls import ACCOUNT_SID, AUTH_TOKEN, Call
from tests.support.servers import RedisServer

# CI runs the suite a second time with the machine's clock moved this many days (time-machine), to prove
# that no test and no code path depends on today's date: every "now" comes from the injected clock.
CLOCK_SHIFT_VARIABLE = "TEST_CLOCK_SHIFT_DAYS"


def pytest_configure(config: pytest.Config) -> None:
    raw = os.environ.get(CLOCK_SHIFT_VARIABLE, "").strip()
    if not raw:
        return
    import time_machine

    try:
        days = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{CLOCK_SHIFT_VARIABLE} must be whole days, got {raw!r}") from None
    target = datetime.now(UTC) + timedelta(days=days)
    traveller = time_machine.travel(target, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)
    config.stash[_SHIFTED] = target


_SHIFTED = pytest.StashKey[datetime]()


def pytest_report_header(config: pytest.Config) -> str | None:
    target = config.stash.get(_SHIFTED, None)
    return f"clock shifted: the machine's time starts at {target:%Y-%m-%d %H:%M} UTC" if target else None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )
    database = Database(url)
    if not url.startswith("sqlite"):
        # A shared server: start from an empty schema so an earlier run cannot leak into this one. The
        # tables as they are, not as these models say: another revision may have had other foreign keys.
        with database.engine.begin() as conn:
            found = MetaData()
            found.reflect(conn)
            found.drop_all(conn)
    database.upgrade()
    database.dispose()
    yield url


@pytest.fixture
def base_config(database_url: str, redis_server: RedisServer, tmp_path: Path) -> dict[str, Any]:
    return {
        "DEFLECT_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "PUBLIC_BASE_URL": "https://voice.example.test",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "DEFLECT_DATA_DIR": str(tmp_path / "data"),
        "DEFLECT_LOG_FORMAT": "text",
        "DEFLECT_WHATSAPP_NUMBER": "+77001234567",
        "DEFLECT_TELEGRAM_BOT": "ExampleBankBot",
        "DEFLECT_BRAND": "Example Bank",
        "TESTING": True,
    }


# A Tuesday, 12:00 in Moscow: the shipped Russian flow is open.
OPEN_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def clock() -> ManualClock:
    """The one clock of every app a test builds (`make_app`), at business hours; tests move it."""
    return ManualClock(OPEN_HOURS)


@pytest.fixture
def make_app(base_config: dict[str, Any], clock: ManualClock) -> Iterator[Any]:
    """Build an app with extra settings, on the test's clock; everything it wrote is wiped after the test."""
    apps: list[Any] = []

    def build(**overrides: Any) -> Any:
        app = create_app({**base_config, **overrides}, environ={}, clock=clock)
        apps.append(app)
        return app

    yield build
    for app in apps:
        services = app.extensions["deflect"]
        try:
            _wipe(services)
        finally:
            services.close()


def _wipe(services: Any) -> None:
    try:
        services.redis.flushdb()
    except Exception:  # a test may have stopped this Redis on purpose
        pass
    try:
        with services.database.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    except OperationalError:  # a test pointed this app at a database that is down, or empty
        pass


@pytest.fixture
def cli_env(base_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test settings as environment variables, for commands that build their own app; what those
    commands wrote is wiped afterwards."""
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "DEFLECT_DATA_DIR",
        "SECRET_KEY",
        "PUBLIC_BASE_URL",
        "TWILIO_AUTH_TOKEN",
        "DEFLECT_WHATSAPP_NUMBER",
        "DEFLECT_BRAND",
    ):
        monkeypatch.setenv(name, str(base_config[name]))
    yield
    app = create_app(base_config, environ={})
    try:
        _wipe(app.extensions["deflect"])
    finally:
        app.extensions["deflect"].close()


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(scope="session")
def twilio_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[prism.PrismServer]:
    """Prism on Twilio's 2010-04-01 API (Messages, Calls, Queues)."""
    server = prism.start(
        "twilio_api_v2010.json",
        tmp_path_factory.mktemp("prism"),
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Queues.json",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def twilio_lookups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[prism.PrismServer]:
    """Prism on Twilio's Lookup v2 API (Line Type Intelligence); the gateway reaches it through
    TWILIO_API_BASE_URL_OVERRIDES=lookups=..."""
    server = prism.start(
        "twilio_lookups_v2.json", tmp_path_factory.mktemp("prism-lookups"), "/v2/PhoneNumbers/+14155550123"
    )
    yield server
    server.stop()


@pytest.fixture
def call(client: Any) -> Call:
    """A Russian mobile caller ringing the bank's number (see tests/support/calls.py)."""
    return Call(client)
