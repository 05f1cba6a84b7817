"""The database engine and sessions: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaRefused(RuntimeError):
    """A migration found data it must not change on its own; the message says what and what to do."""


class Database:
    """One engine and session factory per process; connections are opened lazily by the pool."""

    def __init__(self, url: str, *, connect_timeout: float = 3.0) -> None:
        self.url = url
        self.engine = _create_engine(url, connect_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migration_state(self) -> tuple[set[str], set[str]]:
        """(revisions applied, revisions the code expects)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            applied = set(MigrationContext.configure(conn).get_current_heads())
        expected = set(ScriptDirectory.from_config(alembic_config(self.url)).get_heads())
        return applied, expected

    def upgrade(self) -> None:
        """Bring the schema to the latest revision (idempotent)."""
        from alembic import command

        cfg = alembic_config(self.url)
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _create_engine(url: str, connect_timeout: float) -> Engine:
    # The parameters of a statement are numbers, names and message bodies: SQLAlchemy must not put them
    # into the text of its exceptions (which reach the logs with every traceback) nor into its own logs.
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=connect_timeout,
        connect_args={"connect_timeout": max(1, int(connect_timeout))},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web and worker processes read while one writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
