"""The fixtures every test folder shares: real databases (a SQLite file and, when available,
PostgreSQL), the real runtime with its MCP server, an HTTP client on the real API app, the
loopback OpenAI stand-in and Better Auth's JWKS, and a check that no API key reaches any log.
What tests import besides fixtures is in `tests/support/` (`harness.py` first).

PostgreSQL comes from TASKPILOT_TEST_POSTGRES_URL (`.ci/run` and `make test` set it); tests
that need it are skipped with a printed reason when it is unset or unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel

from taskpilot.core import security
from taskpilot.core.config import Settings, get_settings
from taskpilot.core.db import migrate
from taskpilot.runtime import Runtime
from tests.support.harness import (
    CHEAP_PASSWORD_HASHING,
    PG_SKIP,
    SECRETS,
    api_client,
    fresh_postgres_database,
    make_settings,
    truncate_postgres,
)
from tests.support.jwks import JwksServer
from tests.support.openai_standin import OpenAIStandIn

pytest_plugins = ["tests.support.stall_report"]

os.environ.update(CHEAP_PASSWORD_HASHING)
get_settings.cache_clear()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"postgres: {'SKIPPED - ' + PG_SKIP if PG_SKIP else 'available'}"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated from empty."""
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    with fresh_postgres_database("taskpilot_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each test that uses this runs on SQLite and on PostgreSQL, on a clean database."""
    if request.param == "sqlite":
        path = tmp_path / "taskpilot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A clean SQLite database, for tests whose subject is not the database."""
    path = tmp_path / "taskpilot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


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


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(runtime) as http:
        yield http


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    """The loopback OpenAI stand-in (`tests.support.openai_standin`), running for the test."""
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture
def jwks(monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    """Better Auth's JWKS endpoint on loopback (`tests.support.jwks`), with a fresh key cache:
    a port, and so a JWKS URL, may be reused from an earlier test."""
    monkeypatch.setattr(security, "_key_sets", {})
    with JwksServer() as server:
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
