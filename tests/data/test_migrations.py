"""Alembic migrations apply cleanly from empty, match the models, and downgrade, on both
databases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from taskpilot.core.db import Database, alembic_config, async_url, migrate, sync_url
from taskpilot.data.search_index import SEARCH_INDEXES, compared_with_models
from taskpilot.services.search import ConversationSearch
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
            # Everything but the search index, which is not a model (`data/search_index.py`).
            context = MigrationContext.configure(conn, opts={"include_name": compared_with_models})
            diff = compare_metadata(context, SQLModel.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        _check_search_objects(engine)
    finally:
        engine.dispose()


# What keeps SQLite's search index in step with the rows: a migration that rebuilds one of
# these tables (a batch ALTER copies it) drops its triggers, and must create them again.
SQLITE_SEARCH_TRIGGERS = {
    f"{table}_search_{change}"
    for table in ("message", "conversation")
    for change in ("insert", "update", "delete")
}


def _check_search_objects(engine: sa.Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            triggers = conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
            assert set(triggers) >= SQLITE_SEARCH_TRIGGERS
    else:
        inspector = sa.inspect(engine)
        indexes = {
            ix["name"]
            for table in ("messages", "conversations")
            for ix in inspector.get_indexes(table)
        }
        assert indexes >= SEARCH_INDEXES
        for table in ("messages", "conversations"):
            assert "search_vector" in {c["name"] for c in inspector.get_columns(table)}


def test_the_comparison_leaves_out_only_the_search_objects() -> None:
    assert not compared_with_models("message_search", "table", {})
    assert not compared_with_models("conversation_search_content", "table", {})
    assert not compared_with_models("ix_messages_search", "index", {})
    assert compared_with_models("messages", "table", {})
    assert compared_with_models("message_search_extra", "table", {})
    assert compared_with_models("ix_messages_conversation_id", "index", {})
    assert not compared_with_models("search_vector", "column", {"table_name": "messages"})
    assert compared_with_models("search_vector", "column", {"table_name": "tasks"})
    assert compared_with_models("content", "column", {"table_name": "messages"})


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


@contextlib.contextmanager
def a_person_with_a_conversation(
    url: str, title: str, when: str = "2026-12-05 10:00:00"
) -> Iterator[sa.Engine]:
    """User `u1` with conversation `c1` titled `title`, written in SQL (the schema may be an
    old revision's); what the test added is deleted after it, and the schema checked."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, email, display_name, password_hash, task_seq,"
                    " created_at) VALUES ('u1', 'a@example.com', '', '', 0, :when)"
                ),
                {"when": when},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO conversations (id, user_id, title, created_at, updated_at)"
                    " VALUES ('c1', 'u1', :title, :when, :when)"
                ),
                {"title": title, "when": when},
            )
        yield engine
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM messages"))
            conn.execute(sa.text("DELETE FROM conversations"))
            conn.execute(sa.text("DELETE FROM users"))
        engine.dispose()
    _check_schema(url)


@contextlib.contextmanager
def postgres_emptied(url: str) -> Iterator[str]:
    """The session's PostgreSQL database with no rows, migrated back to the head after."""
    truncate = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with truncate.begin() as conn:
        conn.execute(sa.text("TRUNCATE messages, conversations, tasks, users CASCADE"))
    truncate.dispose()
    try:
        yield url
    finally:
        migrate(url)  # the session's database stays at the head, whatever happened


def _carry_existing_rows(url: str) -> None:
    """0003 on a database with data in it: a message left pending by the code before it, or
    answered without a reply, is failed with a reason (a retry runs it), a second reply to one
    message goes, the rest is kept as it was."""
    command.downgrade(alembic_config(url), "0002")
    insert_message = sa.text(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, tool_calls,"
        " status, reply_to_id, created_at) VALUES (:id, 'c1', 'u1', :role, :content, '[]',"
        " :status, :reply_to, '2026-12-01 10:00:00')"
    )
    with a_person_with_a_conversation(url, "Old", "2026-12-01 10:00:00") as engine:
        with engine.begin() as conn:
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


def test_sqlite_migration_0003_carries_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url)
    _carry_existing_rows(url)


@pytest.mark.postgres
def test_postgres_migration_0003_carries_existing_rows(postgres_url: str) -> None:
    with postgres_emptied(postgres_url):
        _carry_existing_rows(postgres_url)


def _awaiting_survives_a_downgrade(url: str) -> None:
    """0006 on a database with a turn waiting for approval: while it waits, no other turn of
    its conversation may run (the unique index covers `awaiting`); downgraded, the waiting
    message is failed with a reason (a retry runs it) and its paused run goes with the column;
    upgraded again, the schema matches the models and the rows are kept."""
    insert_message = sa.text(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, tool_calls,"
        " status, attempt, created_at, paused_run) VALUES (:id, 'c1', 'u1', 'user', :content,"
        " :calls, :status, 1, '2026-12-05 10:00:00', :paused)"
    ).bindparams(sa.bindparam("calls", type_=sa.JSON), sa.bindparam("paused", type_=sa.JSON))
    waiting_call = {"call_id": "call_1", "name": "delete_task", "arguments": {"task_id": 1}}
    with a_person_with_a_conversation(url, "Chores") as engine:
        with engine.begin() as conn:
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
    with postgres_emptied(postgres_url):
        _awaiting_survives_a_downgrade(postgres_url)


async def _search_covers_existing_rows(url: str) -> None:
    """0008 on a database with conversations in it: their titles and messages are found at
    once (the migration indexes what is there); downgraded, the search objects go and the
    rows stay; upgraded again, the index is rebuilt."""
    command.downgrade(alembic_config(url), "0007")
    database = Database(make_settings(url))
    with a_person_with_a_conversation(url, "Garden chores") as engine:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO messages (id, conversation_id, user_id, role, content,"
                    " tool_calls, status, attempt, created_at) VALUES (1, 'c1', 'u1', 'user',"
                    " 'water the ferns every monday', '[]', 'answered', 1,"
                    " '2026-12-06 10:00:00')"
                )
            )
        migrate(url)

        async def found(query: str) -> list[tuple[str, int | None]]:
            async with database.session() as session:
                hits = await ConversationSearch(session, "u1").search(query)
            return [(hit.conversation.id, hit.message_id) for hit in hits]

        assert await found("ferns") == [("c1", 1)]
        assert await found("garden") == [("c1", None)]

        command.downgrade(alembic_config(url), "0007")
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & {"message_search", "conversation_search"}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar() == 1
        migrate(url)
        assert await found("monday") == [("c1", 1)]
        await database.engine.dispose()


async def test_sqlite_migration_0008_indexes_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'search.db'}"
    migrate(url)
    await _search_covers_existing_rows(url)


@pytest.mark.postgres
async def test_postgres_migration_0008_indexes_existing_rows(postgres_url: str) -> None:
    with postgres_emptied(postgres_url):
        await _search_covers_existing_rows(postgres_url)


async def _earlier_versions_go_on_downgrade(url: str) -> None:
    """0010 on a database with an edited question: downgraded, its earlier version and the
    branch it began go (a schema without edits has no place for them), the current branch
    stays, and search no longer finds what went; upgraded again, the schema matches."""
    database = Database(make_settings(url))
    insert_message = sa.text(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, tool_calls,"
        " status, attempt, reply_to_id, replaced_by, edit_of_id, created_at) VALUES (:id, 'c1',"
        " 'u1', :role, :content, '[]', 'answered', 1, :reply_to, :replaced_by, :edit_of,"
        " '2026-12-07 10:00:00')"
    )
    with a_person_with_a_conversation(url, "Shopping") as engine:
        with engine.begin() as conn:
            for row in [
                (1, "user", "remember the marmalade", None, 3, None),
                (2, "assistant", "Noted: marmalade.", 1, 3, None),
                (3, "user", "remember the bread", None, None, 1),
                (4, "assistant", "Noted: bread.", 3, None, None),
            ]:
                keys = ("id", "role", "content", "reply_to", "replaced_by", "edit_of")
                conn.execute(insert_message, dict(zip(keys, row, strict=True)))

        async def found(query: str) -> list[int | None]:
            async with database.session() as session:
                hits = await ConversationSearch(session, "u1").search(query)
            return [hit.message_id for hit in hits]

        # The earlier version is not searched at the head (one hit per conversation).
        assert await found("marmalade") == [] and await found("bread") in ([3], [4])

        command.downgrade(alembic_config(url), "0009")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, content FROM messages ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(3, "remember the bread"), (4, "Noted: bread.")]
        columns = {c["name"] for c in sa.inspect(engine).get_columns("messages")}
        assert not columns & {"replaced_by", "edit_of_id"}
        if engine.dialect.name == "sqlite":  # the index let go of the deleted rows too
            with engine.connect() as conn:
                indexed = conn.execute(sa.text("SELECT rowid FROM message_search")).scalars()
                assert sorted(indexed) == [3, 4]

        migrate(url)
        with engine.connect() as conn:
            kept = conn.execute(
                sa.text("SELECT id, replaced_by, edit_of_id FROM messages ORDER BY id")
            ).all()
        assert [tuple(r) for r in kept] == [(3, None, None), (4, None, None)]
        assert await found("marmalade") == [] and await found("bread") in ([3], [4])
        await database.engine.dispose()


async def test_sqlite_migration_0010_downgrade_drops_earlier_versions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edits.db'}"
    migrate(url)
    await _earlier_versions_go_on_downgrade(url)


@pytest.mark.postgres
async def test_postgres_migration_0010_downgrade_drops_earlier_versions(
    postgres_url: str,
) -> None:
    with postgres_emptied(postgres_url):
        await _earlier_versions_go_on_downgrade(postgres_url)
