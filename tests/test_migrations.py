"""Alembic migrations apply cleanly from empty, match the models, and downgrade, on both
databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from taskpilot.core.db import Database, alembic_config, async_url, migrate, sync_url
from tests.conftest import make_settings

EXPECTED_TABLES = {"users", "tasks", "conversations", "messages", "alembic_version"}


def _check_schema(url: str) -> None:
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) >= EXPECTED_TABLES
        indexes = {ix["name"] for ix in inspector.get_indexes("messages")}
        assert "ix_messages_conversation_id" in indexes
        assert "ix_tasks_user_completed_due" in {
            ix["name"] for ix in inspector.get_indexes("tasks")
        }
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_sqlite_migrates_from_empty_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    _check_schema(url)
    migrate(url)  # idempotent
    command.downgrade(alembic_config(url), "base")
    engine = sa.create_engine(url)
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


@pytest.mark.postgres
def test_postgres_migrates_from_empty_and_back(postgres_url: str) -> None:
    _check_schema(postgres_url)  # the session database was migrated from empty
    command.downgrade(alembic_config(postgres_url), "base")
    try:
        engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
        engine.dispose()
    finally:
        migrate(postgres_url)
    _check_schema(postgres_url)


def test_url_forms() -> None:
    assert sync_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert (
        async_url("postgresql://u@h/db?sslmode=require")
        == "postgresql+psycopg://u@h/db?sslmode=require"
    )
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert sync_url("sqlite+aiosqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_file_in_a_new_folder_is_migrated(tmp_path: Path) -> None:
    """A DATABASE_URL naming a folder that does not exist yet still works from empty."""
    target = tmp_path / "nested" / "dir" / "t.db"
    Database(make_settings(f"sqlite:///{target}"))
    assert target.parent.is_dir()
    migrate(f"sqlite:///{target}")
    _check_schema(f"sqlite:///{target}")
