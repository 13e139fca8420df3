"""The API app as deployed: its own lifespan, /mcp served beside /api, the agent reaching a
separate MCP server by URL, dropped SSE clients, and failures that must not leak internals."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import httpx
import jwt
import psycopg
import pytest
import sqlalchemy as sa
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from sqlalchemy.exc import OperationalError

from taskpilot.api import sse
from taskpilot.api.app import create_api
from taskpilot.core import db
from taskpilot.core.config import PROJECT_ROOT, Settings
from taskpilot.core.errors import SOMETHING_WENT_WRONG
from taskpilot.core.security import mint_access_token
from taskpilot.runtime import Runtime
from taskpilot.services.conversations import ConversationStore
from taskpilot.services.tasks import TaskService
from tests.support.harness import (
    TEST_SECRET,
    api_client,
    free_port,
    live_server,
    make_settings,
    scripted_runtime,
    sign_up,
)
from tests.support.mcp_client import mcp_env, mcp_session, payload


async def test_standalone_app_runs_its_own_lifespan(sqlite_url: str) -> None:
    """`uvicorn taskpilot.api.app:…` style: the FastAPI lifespan starts and stops the runtime."""
    model = ScriptedModel([[assistant_message("hello")]])
    app = create_api(scripted_runtime(make_settings(sqlite_url), model))

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
                me = await sign_up(http)
                reply = await http.post(
                    f"/api/{me['id']}/chat", json={"message": "hi"}, headers=me["headers"]
                )
                assert reply.json()["response"] == "hello"
                assert (await http.get("/api/health")).json() == {
                    "status": "ok",
                    "database": True,
                    "draining": False,
                }

    await asyncio.create_task(serve())


async def test_mcp_is_served_beside_the_api(runtime: Runtime, client: httpx.AsyncClient) -> None:
    me = await sign_up(client)
    token = me["access_token"]
    app = create_api(runtime)
    for path in ("http://localhost:8000/mcp", "http://localhost:8000/mcp/"):
        async with mcp_session(path, token, app=app) as session:
            added = payload(await session.call_tool("add_task", {"title": f"via {path[-4:]}"}))
            assert added["status"] == "created"
    tasks = (await client.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
    assert tasks["count"] == 2
    # Paths outside /api and /mcp fall through to the app below (Reflex, when mounted).
    assert (await client.get("/not-an-api-route")).status_code == 404


async def test_agent_reaches_a_separate_mcp_server_by_url(sqlite_url: str, running: Any) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "taskpilot.mcp", "http", "--port", str(port)],
        env=mcp_env(sqlite_url),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        settings = make_settings(sqlite_url, mcp_url=f"http://127.0.0.1:{port}/mcp")
        model = ScriptedModel(
            [
                [function_call("add_task", {"title": "remote"}, call_id="c1")],
                [assistant_message("ok")],
            ]
        )
        runtime = await running(scripted_runtime(settings, model))
        async with api_client(runtime) as http:
            me = await sign_up(http)
            reply = await http.post(
                f"/api/{me['id']}/chat", json={"message": "add remote"}, headers=me["headers"]
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["tool_calls"][0]["result"]["title"] == "remote"
            tasks = (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
            assert [t["title"] for t in tasks["tasks"]] == ["remote"]
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_dropped_sse_client_does_not_cut_the_turn_short(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def slow(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("Stored anyway.")]

    runtime = await running(scripted_runtime(settings, ScriptedModel([ModelStep.respond(slow)])))
    async with live_server(runtime) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        me = await sign_up(http)
        async with http.stream(
            "POST",
            f"/api/{me['id']}/chat",
            json={"message": "hello"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        ) as response:
            async for _ in sse.read_events(response):
                break  # the client goes away after the first event
        gate.set()
        await runtime.turns.settle()
        listed = await http.get(f"/api/{me['id']}/conversations", headers=me["headers"])
        cid = listed.json()["conversations"][0]["id"]
        messages = (
            await http.get(f"/api/{me['id']}/conversations/{cid}/messages", headers=me["headers"])
        ).json()["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "hello", "answered"),
        ("assistant", "Stored anyway.", "answered"),
    ]


async def test_unexpected_errors_are_a_plain_500(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(ConversationStore, "recent", broken)
    transport = httpx.ASGITransport(app=create_api(runtime), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        me = await sign_up(http)
        response = await http.get(f"/api/{me['id']}/conversations", headers=me["headers"])
    assert response.status_code == 500
    assert response.json() == {
        "detail": SOMETHING_WENT_WRONG,
        "code": "internal_error",
    }


async def test_a_database_error_inside_a_route_is_a_503(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = await sign_up(client)

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(TaskService, "find", down)
    response = await client.get(f"/api/{me['id']}/tasks", headers=me["headers"])
    assert response.status_code == 503
    assert "server closed" not in response.text


async def test_better_auth_user_whose_email_is_taken(sqlite_url: str, running: Any) -> None:
    secret = "better-auth-shared-secret-0123456789abcdef"
    runtime = await running(Runtime(make_settings(sqlite_url, better_auth_secret=secret)))
    async with api_client(runtime) as http:
        await sign_up(http, "grace@example.com")
        now = int(time.time())
        token = jwt.encode(
            {"sub": "ba_9", "email": "grace@example.com", "iat": now, "exp": now + 60},
            secret,
            algorithm="HS256",
        )
        response = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "already used by another TaskPilot account" in response.json()["detail"]


def test_stdio_refuses_a_token_for_a_deleted_account(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    token, _ = mint_access_token(settings, "gone-user", "gone@example.com")
    assert settings.signing_secret == TEST_SECRET
    result = subprocess.run(
        [sys.executable, "-m", "taskpilot.mcp", "stdio", "--token", token],
        env=mcp_env(sqlite_url),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "no longer exists" in result.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "taskpilot.mcp", "stdio"],
        env={k: v for k, v in mcp_env(sqlite_url).items() if k != "TASKPILOT_TOKEN"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert missing.returncode == 2 and "TASKPILOT_TOKEN" in missing.stderr


@pytest.mark.postgres
async def test_a_running_turn_holds_no_pooled_connection(postgres_url: str, running: Any) -> None:
    """With one pooled connection, other requests are served while a turn waits on the model;
    an exhausted pool is a clear 503, not a hang or a 500."""
    from tests.support.harness import truncate_postgres

    truncate_postgres(postgres_url)
    settings = make_settings(postgres_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5)
    gate = asyncio.Event()

    async def slow(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("done")]

    runtime = await running(scripted_runtime(settings, ScriptedModel([ModelStep.respond(slow)])))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        turn = asyncio.create_task(
            http.post(f"/api/{me['id']}/chat", json={"message": "hi"}, headers=me["headers"])
        )
        while not runtime.turns.model.calls:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        tasks = await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])
        assert tasks.status_code == 200
        async with runtime.db.session() as held:
            await held.exec(sa.text("SELECT 1"))  # type: ignore[call-overload]
            starved = await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])
        assert starved.status_code == 503
        gate.set()
        assert (await turn).json()["response"] == "done"


def test_neon_pooled_endpoints_get_no_prepared_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """PgBouncer in transaction mode (Neon's `-pooler` host) and psycopg's prepared
    statements do not mix; a direct endpoint keeps them."""
    seen: dict[str, dict[str, Any]] = {}
    real = db.create_async_engine

    def capture(url: str, **kwargs: Any) -> Any:
        seen[url] = kwargs
        return real(url, **kwargs)

    monkeypatch.setattr(db, "create_async_engine", capture)
    pooled = "postgresql://app:pw@ep-cool-1-pooler.eu-central-1.aws.neon.tech/neondb"
    direct = "postgresql://app:pw@ep-cool-1.eu-central-1.aws.neon.tech/neondb"
    for url in (pooled, direct):
        db.create_engine(make_settings(url))
    pooled_kwargs, direct_kwargs = seen.values()
    assert pooled_kwargs["connect_args"] == {"prepare_threshold": None}
    assert "connect_args" not in direct_kwargs
    assert pooled_kwargs["pool_recycle"] == 300
    assert "pool_pre_ping" not in pooled_kwargs  # only idle connections are pinged (below)


@pytest.mark.postgres
async def test_only_an_idle_connection_is_pinged_and_a_dead_one_is_replaced_or_fails_once(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pre-ping per checkout: a connection in steady use goes straight to work; one that
    sat idle past IDLE_PING_SECONDS is pinged, and replaced when the server closed it; a
    closed connection that was not idle fails its one request (a 503), and the next works."""
    database = db.Database(make_settings(postgres_url))
    pings: list[bool] = []
    real_ping = database.engine.sync_engine.dialect.do_ping

    def ping(dbapi: Any) -> bool:
        pings.append(True)
        return real_ping(dbapi)

    monkeypatch.setattr(database.engine.sync_engine.dialect, "do_ping", ping)

    async def backend() -> int:
        async with database.session() as session:
            return int((await session.exec(sa.text("SELECT pg_backend_pid()"))).one()[0])

    def terminate(pid: int) -> None:
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        first = await backend()
        assert await backend() == first and pings == []  # hot: reused, not pinged

        terminate(first)
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled one now counts as idle
        replaced = await backend()
        assert replaced != first and pings  # pinged, found closed, replaced before use

        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
        terminate(replaced)
        with pytest.raises(db.DatabaseUnavailable):
            await backend()
        assert await backend() not in (first, replaced)  # the pool recovered by itself
    finally:
        await database.dispose()


async def test_liveness_and_readiness_are_apart(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """A draining worker is alive but not ready: the load balancer stops sending it turns
    and nothing restarts it."""
    assert (await client.get("/api/health/ready")).json()["status"] == "ok"
    await runtime.turns.drain(grace=0)
    ready = await client.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": True, "draining": True}
    live = await client.get("/api/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
