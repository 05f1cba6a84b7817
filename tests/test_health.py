"""Health: /healthz says the process lives; /readyz says what is down, with 503."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.servers import RedisServer


def test_healthz(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_when_everything_is_up(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"
    assert {name for name, check in response.json["checks"].items() if check["ok"]} == {
        "database",
        "migrations",
        "redis",
    }


def test_readyz_names_redis_when_it_is_stopped(make_app: Any, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    app = make_app(REDIS_URL=server.url)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    server.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in response.json["checks"]["redis"]["error"]
    assert response.json["checks"]["database"]["ok"] is True


def test_readyz_names_the_database_when_it_is_unreachable(make_app: Any) -> None:
    app = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"]["ok"] is False
    assert "OperationalError" in response.json["checks"]["database"]["error"]
    assert response.json["checks"]["redis"]["ok"] is True


def test_readyz_says_when_migrations_are_missing(make_app: Any, tmp_path: Path) -> None:
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "deflect db upgrade" in response.json["checks"]["migrations"]["error"]
