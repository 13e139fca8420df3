"""What people write never reaches the logs, not even while the database is failing.

A database error quotes the statement it failed on, and SQLAlchemy's quotes its bound values
(`[parameters: ...]`): a task's title, a question, the tool calls kept on a turn. The
outage here is real: another connection takes the tables' write lock (SQLite: `BEGIN
EXCLUSIVE`, so every write waits out its busy timeout and fails "database is locked";
PostgreSQL: `LOCK TABLE`, and every backend that waits on it is killed with
`pg_terminate_backend`, as a failover does), and turns and MCP tool calls run into it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.testing.model import ModelCall

from taskpilot.api.app import create_api
from taskpilot.core.config import Settings
from taskpilot.core.db import is_sqlite, sync_url
from taskpilot.core.errors import DATABASE_DOWN
from taskpilot.core.logs import JsonFormatter, TextFormatter, configure
from taskpilot.runtime import Runtime
from tests.support.harness import api_client, make_settings, scripted_runtime, sign_up
from tests.support.mcp_client import mcp_session, payload

SECRET_TITLE = "Quarterly-secret-title-9c41"
SECRET_TEXT = "my-private-question-5d2a"


@dataclass
class Logs:
    """Everything logged at INFO and above: TaskPilot's lines in both its formats, and every
    record (TaskPilot's, the MCP SDK's, SQLAlchemy's, the Agents SDK's, httpx's) as a plain
    `logging.Formatter` writes it, traceback included, as a host's own handler would."""

    json: io.StringIO
    text: io.StringIO
    libraries: pytest.LogCaptureFixture

    def everything(self) -> str:
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        records = self.libraries.get_records("setup") + self.libraries.get_records("call")
        library_lines = "\n".join(formatter.format(record) for record in records)
        return "\n".join((self.json.getvalue(), self.text.getvalue(), library_lines))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    caplog.set_level(logging.INFO)
    json_lines, text_lines = io.StringIO(), io.StringIO()
    logger = configure(make_settings("sqlite://", log_level="INFO"), json_lines)
    text = logging.StreamHandler(text_lines)
    text.setFormatter(TextFormatter())
    logger.addHandler(text)
    yield Logs(json_lines, text_lines, caplog)
    for handler in list(logger.handlers):
        if handler is text or getattr(handler, "_taskpilot", False):
            logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


class Outage:
    """Another connection holding the write lock on the tables a turn writes to.

    On SQLite each write then waits out the busy timeout (5 s) before it fails, so the test
    keeps the number of writes that meet the outage small."""

    def __init__(self, database_url: str) -> None:
        self.url = sync_url(database_url)
        self._sqlite: sqlite3.Connection | None = None
        self._holder: psycopg.AsyncConnection[Any] | None = None
        self._killer: asyncio.Task[None] | None = None
        self.killed = 0

    async def begin(self) -> None:
        if is_sqlite(self.url):
            self._sqlite = sqlite3.connect(sa.make_url(self.url).database or "")
            self._sqlite.isolation_level = None
            self._sqlite.execute("BEGIN EXCLUSIVE")  # writers wait out busy_timeout, then fail
            return
        conninfo = self.url.replace("+psycopg", "")
        self._holder = await psycopg.AsyncConnection.connect(conninfo)
        # EXCLUSIVE lets reads through (the sign-in, the pre-ping) and stops every write.
        await self._holder.execute("LOCK TABLE tasks, messages IN EXCLUSIVE MODE")
        killer = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        self._killer = asyncio.create_task(
            self._kill_waiters(killer, self._holder.info.backend_pid)
        )

    async def _kill_waiters(self, admin: psycopg.AsyncConnection[Any], holder: int) -> None:
        try:
            while True:
                cursor = await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> %s"
                    " AND wait_event_type = 'Lock'",
                    (holder,),
                )
                self.killed += len(await cursor.fetchall())
                await asyncio.sleep(0.05)
        finally:
            await admin.close()

    async def end(self) -> None:
        if self._sqlite is not None:
            self._sqlite.rollback()
            self._sqlite.close()
            self._sqlite = None
        if self._killer is not None:
            self._killer.cancel()
            await asyncio.gather(self._killer, return_exceptions=True)
            self._killer = None
        if self._holder is not None:
            await self._holder.close()  # the lock goes with its transaction
            self._holder = None

    @asynccontextmanager
    async def during(self) -> AsyncIterator[None]:
        await self.begin()
        try:
            yield
        finally:
            await self.end()


@pytest.fixture
async def outage(settings: Settings) -> AsyncIterator[Outage]:
    """An outage of the test's database, begun by the test; over when the test is."""
    cut = Outage(settings.database_url)
    yield cut
    await cut.end()


def outage_during_the_tool_call(outage: Outage) -> list[Any]:
    """A model that adds the secret task once the database has started failing, and answers
    once it is back: the tool call and the saving of the turn's progress meet the outage."""

    async def add_as_the_database_fails(_: ModelCall) -> Any:
        await outage.begin()
        return [function_call("add_task", {"title": SECRET_TITLE}, call_id="c2")]

    async def answer_once_it_is_back(_: ModelCall) -> Any:
        await outage.end()
        return [assistant_message("The task list is unavailable right now.")]

    return [ModelStep.respond(add_as_the_database_fails), ModelStep.respond(answer_once_it_is_back)]


async def test_titles_and_messages_never_reach_the_logs_even_in_a_database_outage(
    settings: Settings, running: Any, logs: Logs, outage: Outage
) -> None:
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": SECRET_TITLE}, call_id="c1")],
            [assistant_message("Added.")],
            *outage_during_the_tool_call(outage),
        ]
    )
    runtime: Runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        chat = f"/api/{me['id']}/chat"
        token = me["headers"]["Authorization"].removeprefix("Bearer ")
        mcp = mcp_session("http://localhost:8000/mcp", token, app=create_api(runtime))
        async with mcp as tools:
            # The database is well: a turn adds the task, the MCP client finds and renames it.
            first = await http.post(
                chat, json={"message": f"add {SECRET_TEXT}"}, headers=me["headers"]
            )
            assert first.status_code == 200, first.text
            found = payload(await tools.call_tool("list_tasks", {"search": SECRET_TITLE}))
            assert found["count"] == 1
            renamed = await tools.call_tool(
                "update_task", {"task_id": 1, "title": SECRET_TITLE + "!"}
            )
            assert not renamed.is_error

            # The database fails while a turn's tool call and its progress are being written.
            second = await http.post(
                chat,
                json={
                    "message": f"again {SECRET_TEXT}",
                    "conversation_id": first.json()["conversation_id"],
                },
                headers=me["headers"],
            )
            assert second.status_code == 200, second.text
            [call] = second.json()["tool_calls"]
            assert (
                call["name"] == "add_task" and call["is_error"] and DATABASE_DOWN in call["result"]
            )

            # Down again: a question and a tool call with the secret, at the same time.
            async with outage.during():
                question, added = await asyncio.gather(
                    http.post(chat, json={"message": SECRET_TEXT}, headers=me["headers"]),
                    tools.call_tool("add_task", {"title": SECRET_TITLE}),
                )
            assert question.status_code == 503, question.text
            assert added.is_error and DATABASE_DOWN in payload(added)
        await runtime.turns.settle()

    if not is_sqlite(settings.database_url):
        assert outage.killed >= 3  # the tool's insert, the turn's progress, the question
    everything = logs.everything()
    assert SECRET_TITLE not in everything and SECRET_TEXT not in everything
    # Not only these two: no statement's values at all (a driver may shorten a long value, as
    # psycopg does a JSON one, and so hide the secret by luck).
    assert "[parameters:" not in everything
    # ... while the failures are all there, for the operator.
    json_text, text = logs.json.getvalue(), logs.text.getvalue()
    assert "could not save the turn's progress" in json_text
    assert "OperationalError" in json_text  # the traceback, with the statement's text
    assert "[SQL: UPDATE messages SET tool_calls" in json_text
    assert "could not save the turn's progress" in text and "OperationalError" in text
    failed_tools = [r for r in logs.libraries.records if "Tool 'add_task' failed" in r.getMessage()]
    assert len(failed_tools) == 2
    assert '"status": 503' in json_text


def test_a_database_error_from_elsewhere_is_logged_without_its_values(
    database_url: str, logs: Logs
) -> None:
    # An engine made without `hide_parameters` (as Alembic's or a script's is), and a real
    # constraint failure: SQLAlchemy quotes the values, PostgreSQL quotes the failing row.
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TEMPORARY TABLE notes (title TEXT, n INTEGER NOT NULL)"))
        with pytest.raises(sa.exc.IntegrityError) as failed:
            conn.execute(
                sa.text("INSERT INTO notes VALUES (:title, NULL)"), {"title": SECRET_TITLE}
            )
    engine.dispose()
    error = failed.value
    assert SECRET_TITLE in str(error)  # what the formatters are up against

    logger = logging.getLogger("taskpilot.test")
    logger.error("could not keep a note", exc_info=error)
    logger.warning("the database said %s", error)
    logger.warning("the database said %r", str(error), extra={"cause": error})

    json_text, text = logs.json.getvalue(), logs.text.getvalue()
    for output in (json_text, text):
        assert SECRET_TITLE not in output
        assert "INSERT INTO notes VALUES" in output  # the statement stays, for the operator
        assert "[parameters hidden]" in output
    lines = [json.loads(line) for line in json_text.splitlines()]
    assert [line["level"] for line in lines] == ["ERROR", "WARNING", "WARNING"]
    assert "IntegrityError" in lines[0]["error"] and "INSERT INTO notes" in lines[2]["cause"]
    if not is_sqlite(database_url):
        assert "Failing row contains" not in json_text + text
        assert "DETAIL: (hidden)" in lines[1]["msg"]


def test_the_formatters_cut_only_what_a_database_error_quotes() -> None:
    record = logging.LogRecord("taskpilot.test", logging.INFO, "", 0, "turn done", None, None)
    record.code = "ok"
    assert json.loads(JsonFormatter().format(record))["msg"] == "turn done"
    assert TextFormatter().format(record).endswith("turn done code=ok")
