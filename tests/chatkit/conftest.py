"""The ChatKit tests' people: an API client on a started runtime with the offline model, and
Ada and Bob signed up on it, each with a ChatKit client of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from taskpilot.runtime import Runtime
from tests.support.chatkit_client import ChatKitClient, Person
from tests.support.harness import api_client, sign_up


@pytest.fixture
async def offline_client(offline_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(offline_runtime) as http:
        yield http


@pytest.fixture
async def ada(offline_client: httpx.AsyncClient) -> Person:
    me = await sign_up(offline_client, "ada@example.com")
    return ChatKitClient(offline_client, me["headers"]), me


@pytest.fixture
async def bob(offline_client: httpx.AsyncClient) -> Person:
    me = await sign_up(offline_client, "bob@example.com")
    return ChatKitClient(offline_client, me["headers"]), me
