"""The system under test, started in-process: runtime, API app, an account, seeded history.

`chat_stack()` starts the real `Runtime` (database pool, MCP session manager, agent service)
with the benchmark's model double, builds the real API app with `create_api`, and signs up
one account through the API. Requests go through `httpx.ASGITransport`: no socket, so what
is timed is the server's own work.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col

from bench.databases import BenchDatabase
from bench.model import REPLY, TASK_TITLE, AddTaskModel
from taskpilot.api.app import create_api
from taskpilot.api.sse import parse_events
from taskpilot.core.config import Settings
from taskpilot.data.models import Conversation, Message, Role, TurnStatus, utcnow
from taskpilot.runtime import Runtime

BENCH_SECRET = "taskpilot-bench-secret-not-for-production-0123456789"  # noqa: S105 - bench only
BASE_URL = "http://localhost:8000"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway bench account
MESSAGE = "add a benchmark task, high priority"


def bench_settings(database_url: str, mcp_url: str | None = None) -> Settings:
    """Settings for a benchmark runtime: no .env, a fixed secret, in-process MCP by default."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": BENCH_SECRET,
        "model_provider": "offline",  # the runtime is given the double; this only skips keys
        "mcp_url": mcp_url,
        # No per-person limits: one benchmark user chats far faster than a person.
        "chat_turns_per_minute": 0,
        "requests_per_minute": 0,
        "max_concurrent_turns": 0,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class TurnFailed(RuntimeError):
    """A benchmark turn did not answer 200 with the expected tool call."""


@dataclass
class ChatStack:
    """A started runtime, an API client on it, and the signed-up account it chats as."""

    database: BenchDatabase
    runtime: Runtime
    model: AddTaskModel
    http: httpx.AsyncClient
    user_id: str
    access_token: str
    headers: dict[str, str] = field(default_factory=dict)

    async def chat(
        self, conversation_id: str | None, stream: bool = False
    ) -> tuple[int, dict[str, Any] | str]:
        """One turn through `POST /api/{user_id}/chat`: (elapsed ns, JSON body or SSE text).

        The clock runs from sending the request to having the whole response body.
        """
        body: dict[str, Any] = {"message": MESSAGE}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        headers = {**self.headers, "Accept": "text/event-stream"} if stream else self.headers
        started = time.perf_counter_ns()
        response = await self.http.post(f"/api/{self.user_id}/chat", json=body, headers=headers)
        elapsed = time.perf_counter_ns() - started
        if response.status_code != 200:
            raise TurnFailed(f"chat answered {response.status_code}: {response.text[:300]}")
        if stream:
            if not any(event.event == "done" for event in parse_events(response.content)):
                raise TurnFailed(f"the stream ended without a done event: {response.text[-300:]}")
            return elapsed, response.text
        payload: dict[str, Any] = response.json()
        calls = payload.get("tool_calls") or []
        if not calls or calls[0].get("name") != "add_task" or calls[0].get("is_error"):
            raise TurnFailed(f"the turn did not add a task: {payload}")
        return elapsed, payload

    async def seed_conversation(self, messages: int) -> tuple[str, int]:
        """A conversation with `messages` stored messages (alternating user/assistant turns,
        each assistant one with an add_task call), inserted in bulk. Returns its id and the
        id of its last message."""
        async with self.runtime.db.session() as session:
            conversation = Conversation(user_id=self.user_id, title=f"{messages} messages")
            session.add(conversation)
            await session.commit()
            start = utcnow() - timedelta(days=1)
            rows = [_seed_row(conversation.id, self.user_id, i, start) for i in range(messages)]
            for offset in range(0, len(rows), 500):
                await session.execute(sa.insert(Message), rows[offset : offset + 500])
            await session.commit()
            last = await session.scalar(
                sa.select(sa.func.max(col(Message.id))).where(
                    col(Message.conversation_id) == conversation.id
                )
            )
        return conversation.id, int(last or 0)

    async def trim_conversation(self, conversation_id: str, last_kept_id: int) -> None:
        """Delete the messages added after `last_kept_id`, restoring the seeded length."""
        async with self.runtime.db.session() as session:
            await session.execute(
                sa.delete(Message).where(
                    col(Message.conversation_id) == conversation_id,
                    col(Message.id) > last_kept_id,
                )
            )
            await session.commit()


def _seed_row(conversation_id: str, user_id: str, index: int, start: Any) -> dict[str, Any]:
    """One stored message of a seeded conversation, shaped like a real turn's."""
    created = start + timedelta(seconds=index)
    if index % 2 == 0:
        return {
            "conversation_id": conversation_id,
            "user_id": user_id,
            "role": Role.USER.value,
            "content": f"{MESSAGE} ({index // 2})",
            "tool_calls": [],
            "status": TurnStatus.ANSWERED.value,
            "created_at": created,
        }
    call_id = f"call_seed_{index}"
    result = {"task_id": index // 2 + 1, "status": "created", "title": TASK_TITLE}
    return {
        "conversation_id": conversation_id,
        "user_id": user_id,
        "role": Role.ASSISTANT.value,
        "content": REPLY,
        "tool_calls": [
            {
                "call_id": call_id,
                "name": "add_task",
                "arguments": {"title": TASK_TITLE, "priority": "high"},
                "result": result,
                "is_error": False,
            }
        ],
        "status": TurnStatus.ANSWERED.value,
        "created_at": created,
    }


@asynccontextmanager
async def chat_stack(database: BenchDatabase) -> AsyncIterator[ChatStack]:
    """Start the runtime on `database`, sign up an account, yield the stack; stop it after.

    The runtime's `running()` context is entered and left in this one task, as anyio needs.
    """
    settings = bench_settings(database.url)
    model = AddTaskModel()
    runtime = Runtime(settings, model=model)
    app = create_api(runtime)
    async with runtime.running():
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE_URL, timeout=60
            ) as http:
                email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
                response = await http.post(
                    "/api/auth/signup", json={"email": email, "password": PASSWORD}
                )
                if response.status_code != 201:
                    raise TurnFailed(f"signup answered {response.status_code}: {response.text}")
                account = response.json()
                token = account["access_token"]
                yield ChatStack(
                    database=database,
                    runtime=runtime,
                    model=model,
                    http=http,
                    user_id=account["user"]["id"],
                    access_token=token,
                    headers={"Authorization": f"Bearer {token}"},
                )
        finally:
            await runtime.turns.settle()
