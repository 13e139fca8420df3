"""Server-side sign-out: an ended token is refused at once by the API, the MCP endpoint and
the page, on any worker (two runtimes on one database here), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from taskpilot.core.config import Settings
from taskpilot.core.security import verify_bearer_token
from taskpilot.mcp.server import TaskPilotTokenVerifier
from taskpilot.runtime import Runtime
from taskpilot.services.sign_out import SIGNED_OUT, ended
from tests.support.harness import PASSWORD, api_client, sign_up


async def log_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_signing_out_ends_that_token_on_every_worker(
    settings: Settings, running: Any
) -> None:
    one = await running(Runtime(settings))
    two = await running(Runtime(settings))  # another worker: shares only the database
    async with api_client(one) as first, api_client(two) as second:
        ada = await sign_up(first, "ada@example.com")
        laptop, phone = ada["headers"], await log_in(first, "ada@example.com")
        assert (await second.get("/api/auth/me", headers=laptop)).status_code == 200
        assert (await first.post("/api/auth/logout", headers=laptop)).status_code == 204
        refused = await second.get("/api/auth/me", headers=laptop)
        assert (refused.status_code, refused.json()["detail"]) == (401, SIGNED_OUT)
        assert (
            await second.post(f"/api/{ada['id']}/chat", json={"message": "hi"}, headers=laptop)
        ).status_code == 401
        assert (await first.post("/api/auth/logout", headers=laptop)).status_code == 401
        assert (await second.get("/api/auth/me", headers=phone)).status_code == 200


async def test_signing_out_everywhere_ends_every_earlier_token(
    settings: Settings, running: Any
) -> None:
    one = await running(Runtime(settings))
    two = await running(Runtime(settings))
    async with api_client(one) as first, api_client(two) as second:
        await sign_up(first, "ada@example.com")
        tokens = [await log_in(first, "ada@example.com") for _ in range(3)]
        everywhere = await second.post("/api/auth/logout-everywhere", headers=tokens[0])
        assert everywhere.status_code == 204
        for headers in tokens:
            assert (await first.get("/api/auth/me", headers=headers)).status_code == 401
        # Signing in again at once works: the new token is issued after the sign-out.
        fresh = await log_in(second, "ada@example.com")
        assert (await first.get("/api/auth/me", headers=fresh)).status_code == 200


async def test_an_ended_login_token_is_refused_by_the_mcp_endpoint(
    settings: Settings, running: Any
) -> None:
    runtime = await running(Runtime(settings))
    verifier = TaskPilotTokenVerifier(settings, runtime.db)
    async with api_client(runtime) as http:
        ada = await sign_up(http, "ada@example.com")
        token = ada["headers"]["Authorization"].removeprefix("Bearer ")
        assert await verifier.verify_token(token) is not None
        await http.post("/api/auth/logout", headers=ada["headers"])
    assert await verifier.verify_token(token) is None
    async with runtime.db.session() as session:
        assert await ended(session, await verify_bearer_token(settings, token))
