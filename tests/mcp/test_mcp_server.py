"""The MCP server through the official MCP client: in-process streamable HTTP, a real
loopback HTTP server, and stdio. The user always comes from the token, never an argument."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from typing import Any

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from taskpilot.core.config import PROJECT_ROOT, Settings
from taskpilot.core.live import TASKS_CHANGED, RedisFeed
from taskpilot.core.security import mint_access_token, mint_mcp_token
from taskpilot.runtime import Runtime
from tests.support.harness import REDIS_URL, TASK_TOOLS, free_port, needs_redis
from tests.support.mcp_client import in_process, make_user, mcp_env, mcp_session, payload


async def test_tools_are_listed_without_a_user_argument(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        tools = (await session.list_tools()).tools
    assert {tool.name for tool in tools} == TASK_TOOLS
    for tool in tools:
        properties = tool.input_schema.get("properties", {})
        assert not any("user" in name for name in properties), tool.name
        assert tool.description


async def test_task_lifecycle_through_every_tool(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        added = payload(
            await session.call_tool(
                "add_task",
                {
                    "title": "  Buy   milk ",
                    "priority": "high",
                    "due_date": "2026-12-01",
                    "tags": ["#Home", "errands"],
                },
            )
        )
        assert added["status"] == "created"
        assert added["task_id"] == 1
        assert added["title"] == "Buy milk"
        assert added["tags"] == ["home", "errands"]
        assert added["due_date"] == "2026-12-01"
        second = payload(await session.call_tool("add_task", {"title": "Team meeting notes"}))
        assert second["task_id"] == 2 and second["priority"] == "medium"

        listed = payload(await session.call_tool("list_tasks", {}))
        assert listed["count"] == 2
        assert [t["status"] for t in listed["tasks"]] == ["pending", "pending"]
        found = payload(await session.call_tool("list_tasks", {"search": "MEETING"}))
        assert [t["task_id"] for t in found["tasks"]] == [2]
        tagged = payload(await session.call_tool("list_tasks", {"tag": "home"}))
        assert [t["task_id"] for t in tagged["tasks"]] == [1]
        urgent = payload(await session.call_tool("list_tasks", {"priority": "high"}))
        assert [t["task_id"] for t in urgent["tasks"]] == [1]
        due = payload(
            await session.call_tool("list_tasks", {"due_before": "2026-12-31", "sort": "due"})
        )
        assert [t["task_id"] for t in due["tasks"]] == [1]

        updated = payload(
            await session.call_tool(
                "update_task",
                {"task_id": 2, "title": "Call mom tonight", "due_date": "none", "priority": "low"},
            )
        )
        assert updated == {
            **updated,
            "status": "updated",
            "title": "Call mom tonight",
            "priority": "low",
            "due_date": None,
        }

        done = payload(await session.call_tool("complete_task", {"task_id": 1}))
        assert done["status"] == "completed" and done["completed"] and done["completed_at"]
        pending = payload(await session.call_tool("list_tasks", {"status": "pending"}))
        assert [t["task_id"] for t in pending["tasks"]] == [2]
        completed = payload(await session.call_tool("list_tasks", {"status": "completed"}))
        assert [t["task_id"] for t in completed["tasks"]] == [1]
        reopened = payload(
            await session.call_tool("complete_task", {"task_id": 1, "completed": False})
        )
        assert reopened["status"] == "pending" and reopened["completed_at"] is None

        deleted = payload(await session.call_tool("delete_task", {"task_id": 2}))
        assert deleted["status"] == "deleted" and deleted["title"] == "Call mom tonight"
        remaining = payload(await session.call_tool("list_tasks", {}))
        assert [t["task_id"] for t in remaining["tasks"]] == [1]
        # Numbers are never reused: the next task is 3, not 2.
        assert payload(await session.call_tool("add_task", {"title": "x"}))["task_id"] == 3


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("complete_task", {"task_id": 99}, "Task 99 was not found"),
        ("delete_task", {"task_id": 99}, "Task 99 was not found"),
        ("update_task", {"task_id": 99, "title": "x"}, "Task 99 was not found"),
        ("add_task", {"title": "   "}, "needs a title"),
        ("add_task", {"title": "x" * 201}, "at most 200"),
        ("add_task", {"title": "x", "due_date": "someday"}, "can't read 'someday' as a date"),
        ("add_task", {"title": "x", "due_date": "2026-02-30"}, "not a real calendar date"),
        (
            "add_task",
            {"title": "x", "tags": ["t"] * 0 + [f"t{i}" for i in range(11)]},
            "at most 10 tags",
        ),
        ("update_task", {"task_id": 1}, "Nothing to change"),
    ],
)
async def test_tool_errors_are_clear(
    runtime: Runtime, tool: str, arguments: dict[str, Any], message: str
) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        await session.call_tool("add_task", {"title": "existing"})
        result = await session.call_tool(tool, arguments)
    assert result.is_error
    assert message in result.content[0].text


async def test_invalid_arguments_are_rejected(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        result = await session.call_tool("add_task", {"title": "x", "priority": "urgent!!"})
        assert result.is_error
        result = await session.call_tool("complete_task", {"task_id": "three"})
        assert result.is_error


async def test_each_user_sees_and_changes_only_their_own_tasks(runtime: Runtime) -> None:
    ada = await make_user(runtime, "ada@example.com")
    bob = await make_user(runtime, "bob@example.com")
    async with in_process(runtime, ada) as session:
        await session.call_tool("add_task", {"title": "Ada's secret plan"})
        await session.call_tool("add_task", {"title": "Ada's second task"})
    async with in_process(runtime, bob) as session:
        # Bob's own numbering starts at 1; Ada's task 2 is invisible to him.
        listed = payload(await session.call_tool("list_tasks", {"search": "secret"}))
        assert listed["count"] == 0
        for tool, args in [
            ("complete_task", {"task_id": 2}),
            ("delete_task", {"task_id": 2}),
            ("update_task", {"task_id": 2, "title": "hacked"}),
        ]:
            result = await session.call_tool(tool, args)
            assert result.is_error and "Task 2 was not found" in result.content[0].text
        # Extra arguments naming a user are refused or ignored, never obeyed.
        sneaky = await session.call_tool("list_tasks", {"user_id": ada})
        assert sneaky.is_error or payload(sneaky)["count"] == 0
        mine = payload(await session.call_tool("add_task", {"title": "Bob's task"}))
        assert mine["task_id"] == 1
    async with in_process(runtime, ada) as session:
        titles = [t["title"] for t in payload(await session.call_tool("list_tasks", {}))["tasks"]]
    assert titles == ["Ada's secret plan", "Ada's second task"]


async def test_requests_without_a_valid_token_are_refused(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    forged = Settings(_env_file=None, jwt_secret="another-secret-entirely-0123456789abcdef")  # type: ignore[call-arg]
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=runtime.mcp_app), base_url="http://localhost"
    ) as http:
        assert (await http.post("/mcp", json=body, headers=headers)).status_code == 401
        for token in ("not-a-jwt", mint_mcp_token(forged, user)):
            response = await http.post(
                "/mcp", json=body, headers={**headers, "Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401
        expired = runtime.settings.model_copy(update={"mcp_token_seconds": -60})
        response = await http.post(
            "/mcp",
            json=body,
            headers={**headers, "Authorization": f"Bearer {mint_mcp_token(expired, user)}"},
        )
        assert response.status_code == 401
        # DNS-rebinding protection: only the deployment's hosts are served.
        good = {**headers, "Authorization": f"Bearer {mint_mcp_token(runtime.settings, user)}"}
        evil = await http.post("/mcp", json=body, headers={**good, "Host": "evil.example"})
        assert evil.status_code in (400, 403, 421)


async def test_a_login_token_works_for_external_mcp_clients(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    token, _ = mint_access_token(runtime.settings, user, "ada@example.com")
    async with mcp_session("http://localhost/mcp", token, app=runtime.mcp_app) as session:
        assert (
            payload(await session.call_tool("add_task", {"title": "from my IDE"}))["task_id"] == 1
        )


async def test_streamable_http_over_a_real_socket(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "taskpilot.mcp", "http", "--port", str(port)],
        env=mcp_env(runtime.settings.database_url),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        token = mint_mcp_token(runtime.settings, user)
        async with mcp_session(f"http://127.0.0.1:{port}/mcp", token) as session:
            added = payload(await session.call_tool("add_task", {"title": "over the wire"}))
            listed = payload(await session.call_tool("list_tasks", {}))
        assert added["task_id"] == 1
        assert [t["title"] for t in listed["tasks"]] == ["over the wire"]
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_stdio_serves_the_token_owner(runtime: Runtime) -> None:
    ada = await make_user(runtime, "ada@example.com")
    bob = await make_user(runtime, "bob@example.com")
    async with in_process(runtime, bob) as session:
        await session.call_tool("add_task", {"title": "Bob's private task"})
    token, _ = mint_access_token(runtime.settings, ada, "ada@example.com")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskpilot.mcp", "stdio"],
        env={**mcp_env(runtime.settings.database_url), "TASKPILOT_TOKEN": token},
        cwd=PROJECT_ROOT,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TASK_TOOLS
        added = payload(
            await session.call_tool("add_task", {"title": "from stdio", "due_date": "tomorrow"})
        )
        listed = payload(await session.call_tool("list_tasks", {}))
    assert added["task_id"] == 1
    assert [t["title"] for t in listed["tasks"]] == ["from stdio"]


@needs_redis
async def test_stdio_changes_reach_the_persons_open_pages_through_redis(runtime: Runtime) -> None:
    """A separate MCP process given the server's REFLEX_REDIS_URL tells the person's open
    pages (here, a worker's subscription to the person's channel) of every change it makes."""
    ada = await make_user(runtime, "ada@example.com")
    token, _ = mint_access_token(runtime.settings, ada, "ada@example.com")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskpilot.mcp", "stdio"],
        env={
            **mcp_env(runtime.settings.database_url),
            "TASKPILOT_TOKEN": token,
            "REFLEX_REDIS_URL": REDIS_URL,
        },
        cwd=PROJECT_ROOT,
    )
    feed = RedisFeed(REDIS_URL)
    async with feed.subscribed(ada) as page:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool("list_tasks", {})  # reading changes nothing: no news
            await session.call_tool("add_task", {"title": "from stdio"})
            assert await page.next(10) == TASKS_CHANGED
        assert await page.next(0.3) is None
    await feed.close()


def test_stdio_refuses_a_bad_token(sqlite_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "taskpilot.mcp", "stdio", "--token", "garbage"],
        env=mcp_env(sqlite_url),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "not valid" in result.stderr
