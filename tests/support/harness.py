"""What most tests need besides fixtures: settings, a client on the real API app, an account,
a token, a free port, the databases the run may use, and the test-wide constants.

Fixtures live in `tests/conftest.py` and are built from these; tests import these directly.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import psycopg
import pytest
import redis
import sqlalchemy as sa
import uvicorn
from agents.models.interface import Model

from taskpilot.api import sse
from taskpilot.api.app import create_api
from taskpilot.core.config import Settings
from taskpilot.core.db import migrate, sync_url
from taskpilot.core.security import mint_access_token
from taskpilot.mcp.tools import ToolName
from taskpilot.runtime import Runtime

POSTGRES_ENV = "TASKPILOT_TEST_POSTGRES_URL"
# The MCP server's tools: the agent's only tools, and what every MCP client should see.
TASK_TOOLS = {name.value for name in ToolName}
TEST_SECRET = "test-secret-for-taskpilot-tests-only-0123456789"
# API keys tests give TaskPilot for OpenAI and for an OpenAI-compatible server: never to be
# seen in a response or a log.
OPENAI_KEY = "sk-proj-TaskPilotTestKey-3f9a1c7e5b2d4f60a8e1"
COMPAT_KEY = "sk-compat-TaskPilotTestKey-77c0e4d2b19f"
SECRETS = (OPENAI_KEY, COMPAT_KEY)
PASSWORD = "correct horse battery"
# Argon2id at its production cost takes ~90 ms a hash here, and the tests sign up hundreds of
# people. Hashes record their own parameters, so this makes only the tests' hashes cheap;
# `tests/conftest.py` sets it for the test process and `app_server.server_env` for the
# servers the tests start.
CHEAP_PASSWORD_HASHING = {"PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "32"}
# Redis for the tests that count in it (a database of its own, flushed by those tests).
REDIS_URL = "redis://127.0.0.1:6379/11"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


def _postgres_reason() -> str | None:
    url = postgres_admin_url()
    if not url:
        return f"{POSTGRES_ENV} is not set (`.ci/run` and `make test` set it)"
    try:
        with psycopg.connect(sync_url(url).replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc}"


# Why the PostgreSQL tests skip this run (None: they run).
PG_SKIP = _postgres_reason()


def _redis_reason() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable ({exc})"
    return None


needs_redis = pytest.mark.skipif(_redis_reason() is not None, reason=_redis_reason() or "")


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new, migrated database on the shared PostgreSQL (TASKPILOT_TEST_POSTGRES_URL), dropped
    afterwards (the deploy step's migration: each machine's taskpilot.serve then finds it done)."""
    admin = sync_url(os.environ[POSTGRES_ENV]).replace("+psycopg", "")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        migrate(rendered)
        yield rendered
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_postgres(url: str) -> None:
    """Empty every table of a test database."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE messages, conversations, tasks, users CASCADE"))
    engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: no .env, a fixed secret, the offline model unless overridden."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "model_provider": "offline",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def scripted_runtime(settings: Settings, model: Model) -> Runtime:
    """A runtime whose agent uses a test double of the model."""
    return Runtime(settings, model=model)


def api_client(runtime: Runtime) -> httpx.AsyncClient:
    """An HTTP client talking to the real API app in-process."""
    app = create_api(runtime)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000", timeout=30
    )


async def sign_up(http: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, Any]:
    """Create an account through the API; returns the token response plus auth headers."""
    response = await http.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    body["id"] = body["user"]["id"]
    return body


def bearer(settings: Settings, user_id: str, email: str = "x@example.com") -> dict[str, str]:
    token, _ = mint_access_token(settings, user_id, email)
    return {"Authorization": f"Bearer {token}"}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """A server-sent-events body as (event, data) pairs."""
    return [(event.event, event.json()) for event in sse.parse_events(text)]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def live_server(runtime: Runtime) -> AsyncIterator[str]:
    """The API app on a real loopback socket (httpx's ASGI transport buffers whole responses,
    so streaming and disconnects need a real server)."""
    port = free_port()
    config = uvicorn.Config(
        create_api(runtime), host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
