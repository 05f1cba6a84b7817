"""Migrations: the schema they build is the one the models describe, and they go down and up again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.store.db import Database, alembic_config
from gateway.store.models import Base


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    database.dispose()
    assert diff == []


def test_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    database = Database(url)
    database.upgrade()
    applied, expected = database.migration_state()
    assert applied == expected
    command.downgrade(alembic_config(url), "base")
    assert database.migration_state()[0] == set()
    database.upgrade()
    assert database.migration_state()[0] == expected
    database.dispose()
