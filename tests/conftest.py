"""Shared fixtures: real databases (a SQLite file and, when available, PostgreSQL), the real
runtime with its MCP server, an HTTP client on the real API app, and the loopback OpenAI
stand-in with a check that no API key reaches any log.

PostgreSQL comes from TASKPILOT_TEST_POSTGRES_URL (`.ci/run` and `make test` set it); tests
that need it are skipped with a printed reason when it is unset or unreachable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from agents.models.interface import Model
from agents.testing import ScriptedModel

from taskpilot.api.app import create_api
from taskpilot.core.config import Settings, get_settings
from taskpilot.core.db import migrate, sync_url
from taskpilot.core.security import mint_access_token
from taskpilot.mcp.tools import ToolName
from taskpilot.runtime import Runtime
from tests.openai_standin import OpenAIStandIn

POSTGRES_ENV = "TASKPILOT_TEST_POSTGRES_URL"
# The MCP server's tools: the agent's only tools, and what every MCP client should see.
TASK_TOOLS = {name.value for name in ToolName}
TEST_SECRET = "test-secret-for-taskpilot-tests-only-0123456789"
# API keys tests give TaskPilot for OpenAI and for an OpenAI-compatible server: never to be
# seen in a response or a log.
OPENAI_KEY = "sk-proj-TaskPilotTestKey-3f9a1c7e5b2d4f60a8e1"
COMPAT_KEY = "sk-compat-TaskPilotTestKey-77c0e4d2b19f"
SECRETS = (OPENAI_KEY, COMPAT_KEY)


def _postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


def _postgres_reason() -> str | None:
    url = _postgres_admin_url()
    if not url:
        return f"{POSTGRES_ENV} is not set (`.ci/run` and `make test` set it)"
    try:
        with psycopg.connect(sync_url(url).replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc}"


_PG_SKIP = _postgres_reason()

# Argon2id at its production cost takes ~90 ms a hash here, and the tests sign up hundreds of
# people. Hashes record their own parameters, so this makes only the tests' hashes cheap; the
# servers the tests start are given the same (`tests/browser/app_server.py`).
CHEAP_PASSWORD_HASHING = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "32"}
os.environ.update(CHEAP_PASSWORD_HASHING)
get_settings.cache_clear()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"postgres: {'SKIPPED - ' + _PG_SKIP if _PG_SKIP else 'available'}"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated from empty."""
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    admin = sync_url(_postgres_admin_url() or "").replace("+psycopg", "")
    name = f"taskpilot_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    migrate(rendered)
    yield rendered
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE messages, conversations, tasks, users CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each test that uses this runs on SQLite and on PostgreSQL, on a clean database."""
    if request.param == "sqlite":
        path = tmp_path / "taskpilot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A clean SQLite database, for tests whose subject is not the database."""
    path = tmp_path / "taskpilot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: no .env, a fixed secret, the offline model unless overridden."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "model_provider": "offline",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Runtime], Any]]:
    """Start runtimes for the test's duration (MCP session manager, pools).

    Each runtime's lifespan is entered and exited inside one dedicated task, as anyio's
    cancel scopes require; pytest-asyncio runs fixture setup and teardown in different tasks.
    """
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(runtime: Runtime) -> Runtime:
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with runtime.running():
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold())
        await asyncio.wait(
            [task, asyncio.create_task(started.wait())], return_when="FIRST_COMPLETED"
        )
        if task.done():
            task.result()
        stops.append((stop, task))
        return runtime

    yield start
    for stop, task in reversed(stops):
        stop.set()
        await task


@pytest.fixture
async def runtime(settings: Settings, running: Any) -> Runtime:
    """A started runtime on the test database. Its model is an empty script: tests that
    chat use `offline_runtime` or `scripted_runtime`."""
    return await running(Runtime(settings, model=ScriptedModel([])))  # type: ignore[no-any-return]


@pytest.fixture
async def offline_runtime(settings: Settings, running: Any) -> Runtime:
    """A started runtime with the built-in offline model, as a fresh clone runs."""
    return await running(Runtime(settings))  # type: ignore[no-any-return]


def api_client(runtime: Runtime) -> httpx.AsyncClient:
    """An HTTP client talking to the real API app in-process."""
    app = create_api(runtime)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000", timeout=30
    )


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(runtime) as http:
        yield http


async def sign_up(http: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, Any]:
    """Create an account through the API; returns the token response plus auth headers."""
    response = await http.post(
        "/api/auth/signup", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    body["id"] = body["user"]["id"]
    return body


def bearer(settings: Settings, user_id: str, email: str = "x@example.com") -> dict[str, str]:
    token, _ = mint_access_token(settings, user_id, email)
    return {"Authorization": f"Bearer {token}"}


def scripted_runtime(settings: Settings, model: Model) -> Runtime:
    """A runtime whose agent uses a test double of the model."""
    return Runtime(settings, model=model)


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """A server-sent-events body as (event, data) pairs."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    """The loopback OpenAI stand-in (`tests.openai_standin`), running for the test."""
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture
def secret_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every log record at DEBUG (TaskPilot's, the SDK's, openai's, httpx's) and
    check afterwards that no API key was written to any of them."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="taskpilot")
    yield caplog
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert any(r.name.startswith("openai") for r in records), "the capture is not working"
    formatter = logging.Formatter()
    for record in records:
        dumped = f"{formatter.format(record)} {record.__dict__!r}"
        for secret in SECRETS:
            assert secret not in dumped, f"API key in log record {record.name}: {record.msg}"
