"""Alembic migrations apply cleanly from empty, match the models, and downgrade, on both
databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from taskpilot.core.db import Database, alembic_config, async_url, migrate, sync_url
from tests.support.harness import make_settings

EXPECTED_TABLES = {
    "users",
    "tasks",
    "conversations",
    "messages",
    "calendar_feeds",
    "alembic_version",
}


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


def _carry_existing_rows(url: str) -> None:
    """0003 on a database with data in it: a message left pending by the code before it, or
    answered without a reply, is failed with a reason (a retry runs it), a second reply to one
    message goes, the rest is kept as it was."""
    command.downgrade(alembic_config(url), "0002")
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    insert_message = sa.text(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, tool_calls,"
        " status, reply_to_id, created_at) VALUES (:id, 'c1', 'u1', :role, :content, '[]',"
        " :status, :reply_to, '2026-12-01 10:00:00')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, email, display_name, password_hash, task_seq,"
                    " created_at) VALUES ('u1', 'a@example.com', '', '', 0,"
                    " '2026-12-01 10:00:00')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO conversations (id, user_id, title, created_at, updated_at)"
                    " VALUES ('c1', 'u1', 'Old', '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
                )
            )
            for row in [
                (1, "user", "asked", "answered", None),
                (2, "assistant", "answered once", "answered", 1),
                (3, "assistant", "answered twice", "answered", 1),
                (4, "user", "lost with its worker", "pending", None),
                (5, "user", "its reply was discarded", "answered", None),
            ]:
                conn.execute(
                    insert_message,
                    dict(zip(("id", "role", "content", "status", "reply_to"), row, strict=True)),
                )
        migrate(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, status, error, attempt FROM messages ORDER BY id")
            ).all()
        assert [(r[0], r[1], r[3]) for r in rows] == [
            (1, "answered", 0),
            (2, "answered", 0),
            (4, "failed", 0),
            (5, "failed", 0),
        ]
        assert all(row[2] and "Retry it" in row[2] for row in rows[2:])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM messages"))
            conn.execute(sa.text("DELETE FROM conversations"))
            conn.execute(sa.text("DELETE FROM users"))
        engine.dispose()
    _check_schema(url)


def test_sqlite_migration_0003_carries_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url)
    _carry_existing_rows(url)


@pytest.mark.postgres
def test_postgres_migration_0003_carries_existing_rows(postgres_url: str) -> None:
    _truncate = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with _truncate.begin() as conn:
        conn.execute(sa.text("TRUNCATE messages, conversations, tasks, users CASCADE"))
    _truncate.dispose()
    _carry_existing_rows(postgres_url)


def _awaiting_survives_a_downgrade(url: str) -> None:
    """0006 on a database with a turn waiting for approval: while it waits, no other turn of
    its conversation may run (the unique index covers `awaiting`); downgraded, the waiting
    message is failed with a reason (a retry runs it) and its paused run goes with the column;
    upgraded again, the schema matches the models and the rows are kept."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    insert_message = sa.text(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, tool_calls,"
        " status, attempt, created_at, paused_run) VALUES (:id, 'c1', 'u1', 'user', :content,"
        " :calls, :status, 1, '2026-12-05 10:00:00', :paused)"
    ).bindparams(sa.bindparam("calls", type_=sa.JSON), sa.bindparam("paused", type_=sa.JSON))
    waiting_call = {"call_id": "call_1", "name": "delete_task", "arguments": {"task_id": 1}}
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, email, display_name, password_hash, task_seq,"
                    " created_at) VALUES ('u1', 'a@example.com', '', '', 0,"
                    " '2026-12-05 10:00:00')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO conversations (id, user_id, title, created_at, updated_at)"
                    " VALUES ('c1', 'u1', 'Chores', '2026-12-05 10:00:00',"
                    " '2026-12-05 10:00:00')"
                )
            )
            conn.execute(
                insert_message,
                {
                    "id": 1,
                    "content": "delete task 1",
                    "calls": [{**waiting_call, "approval": "pending"}],
                    "status": "awaiting",
                    "paused": {"state": {"some": "run"}, "reply": ""},
                },
            )
        second = {"content": "another", "calls": [], "status": "running", "paused": None}
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert_message, {"id": 2, **second})

        command.downgrade(alembic_config(url), "0005")
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT status, error FROM messages WHERE id = 1")).one()
        assert row[0] == "failed" and "waiting for approval" in row[1]
        columns = {c["name"] for c in sa.inspect(engine).get_columns("messages")}
        assert "paused_run" not in columns
        with engine.begin() as conn:  # a failed turn holds nothing: a new one may run
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, conversation_id, user_id, role, content,"
                    " tool_calls, status, attempt, created_at) VALUES (2, 'c1', 'u1', 'user',"
                    " 'another', '[]', 'running', 1, '2026-12-05 10:01:00')"
                )
            )

        migrate(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, status, paused_run FROM messages ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [(1, "failed", None), (2, "running", None)]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM messages"))
            conn.execute(sa.text("DELETE FROM conversations"))
            conn.execute(sa.text("DELETE FROM users"))
        engine.dispose()
    _check_schema(url)


def test_sqlite_migration_0006_fails_a_turn_awaiting_approval_on_downgrade(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'waiting.db'}"
    migrate(url)
    _awaiting_survives_a_downgrade(url)


@pytest.mark.postgres
def test_postgres_migration_0006_fails_a_turn_awaiting_approval_on_downgrade(
    postgres_url: str,
) -> None:
    truncate = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with truncate.begin() as conn:
        conn.execute(sa.text("TRUNCATE messages, conversations, tasks, users CASCADE"))
    truncate.dispose()
    try:
        _awaiting_survives_a_downgrade(postgres_url)
    finally:
        migrate(postgres_url)  # the session's database stays at the head, whatever happened
