"""The official MCP client on TaskPilot's MCP server: in-process, over a URL, and the
environment a separate MCP server process runs with."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from taskpilot.core.config import PROJECT_ROOT
from taskpilot.core.security import mint_mcp_token
from taskpilot.runtime import Runtime
from taskpilot.services.users import UserService
from tests.support.harness import TEST_SECRET


async def make_user(runtime: Runtime, email: str) -> str:
    async with runtime.db.session() as session:
        user = await UserService(session).sign_up(email, "a long password")
    return user.id


@asynccontextmanager
async def mcp_session(
    url: str, token: str | None, app: Any = None, host: str = "localhost"
) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx2.ASGITransport(app=app) if app is not None else None
    kwargs: dict[str, Any] = {"headers": headers, "timeout": 30}
    if transport is not None:
        kwargs["transport"] = transport
    async with (
        httpx2.AsyncClient(**kwargs) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def payload(result: Any) -> Any:
    text = result.content[0].text
    try:
        return json.loads(text)
    except ValueError:
        return text


@asynccontextmanager
async def in_process(runtime: Runtime, user_id: str) -> AsyncIterator[ClientSession]:
    token = mint_mcp_token(runtime.settings, user_id)
    async with mcp_session("http://localhost/mcp", token, app=runtime.mcp_app) as session:
        yield session


def mcp_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
