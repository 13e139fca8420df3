"""Measurement 3: what reaching the MCP server costs per turn, by transport.

One iteration is what a turn needs from MCP: open a client session (`initialize`), list the
tools, call `add_task` (a real write), close. It is timed twice: until the tool's result
arrives, and until the session is closed. Transports:

- in-process through the service's own `McpConnector` (what a turn does: `mcp.Client` on the
  server object, the SDK's direct in-process dispatch, the user bound when the session opens);
- in-process ASGI (`httpx2.ASGITransport` on the runtime's MCP app, no socket) with the
  official `mcp` client: what turns did before (streamable HTTP framing without a socket);
- loopback HTTP to `python -m taskpilot.mcp http` in a subprocess: through `McpConnector`
  with `mcp_url` set (as a turn does when MCP_URL is configured), and with the official
  client using a new default client per turn, a new client sharing one SSL context, or one
  kept-alive client;
- stdio: a new `python -m taskpilot.mcp stdio` process per iteration (why we don't);
- for comparison, `mcp.Client(server)` with a fresh session doing its own tool listing
  (what `McpConnector` saves by sharing the listing and the compiled validators).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

import httpx2
from mcp import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from bench.machine import Load, LoadMeter
from bench.stack import BENCH_SECRET, ChatStack, bench_settings
from bench.stats import Summary
from taskpilot.agent.mcp_client import McpConnector
from taskpilot.core.config import PROJECT_ROOT
from taskpilot.core.security import mint_mcp_token
from taskpilot.mcp.server import acting_for

INTERNAL_MCP_BASE = "http://taskpilot.internal"  # the in-process ASGI app's made-up host
TOOL_ARGUMENTS = {"title": "MCP benchmark task", "priority": "low"}
SERVER_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class McpResult:
    """One transport's cost per turn: until the tool result, and including the close."""

    transport: str
    until_result: Summary
    until_closed: Summary
    load: Load | None = None


Iteration = Callable[[], Awaitable[tuple[int, int]]]


async def _session_round(http: httpx2.AsyncClient, url: str) -> int:
    """initialize + list_tools + call_tool over streamable HTTP; returns when the result came."""
    async with (
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        assert any(tool.name == "add_task" for tool in tools.tools)
        result = await session.call_tool("add_task", TOOL_ARGUMENTS)
        assert not result.is_error, result
        return time.perf_counter_ns()


async def _measure(name: str, iteration: Iteration, iterations: int, warmup: int) -> McpResult:
    for _ in range(warmup):
        await iteration()
    to_result: list[int] = []
    to_close: list[int] = []
    meter = LoadMeter().start()
    for _ in range(iterations):
        result_ns, closed_ns = await iteration()
        to_result.append(result_ns)
        to_close.append(closed_ns)
    return McpResult(name, Summary.of_ns(to_result), Summary.of_ns(to_close), meter.stop())


def _with_client(make_client: Callable[[], httpx2.AsyncClient], url: str) -> Iteration:
    """An iteration that opens a new HTTP client, runs one session round, closes both."""

    async def iteration() -> tuple[int, int]:
        started = time.perf_counter_ns()
        async with make_client() as http:
            got_result = await _session_round(http, url)
        return got_result - started, time.perf_counter_ns() - started

    return iteration


def _with_connector(connector: McpConnector, user_id: str) -> Iteration:
    """An iteration through the service's own `McpConnector`, as a turn's agent uses it."""

    async def iteration() -> tuple[int, int]:
        started = time.perf_counter_ns()
        async with connector.session(user_id) as tools:
            assert any(tool.name == "add_task" for tool in tools)
            result = await connector.dispatch.call_tool("add_task", TOOL_ARGUMENTS)
            assert not result.is_error, result
            got_result = time.perf_counter_ns()
        return got_result - started, time.perf_counter_ns() - started

    return iteration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": BENCH_SECRET,
        "PYTHONPATH": str(PROJECT_ROOT),
    }


@contextmanager
def mcp_http_server(database_url: str) -> Iterator[str]:
    """`python -m taskpilot.mcp http` on a free loopback port; yields its /mcp URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "taskpilot.mcp", "http", "--host", "127.0.0.1", "--port", str(port)],
        env=_server_env(database_url),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"the MCP HTTP server exited at start-up: {error[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the MCP HTTP server did not start listening") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _measure_loopback(
    stack: ChatStack, url: str, iterations: int, warmup: int
) -> list[McpResult]:
    headers = {"Authorization": f"Bearer {mint_mcp_token(stack.runtime.settings, stack.user_id)}"}
    remote = McpConnector(bench_settings(stack.database.url, mcp_url=url), stack.runtime.mcp_server)
    shared_tls = ssl.create_default_context()
    results = [
        await _measure(
            "loopback HTTP via Agents SDK (`McpConnector` with `mcp_url`)",
            _with_connector(remote, stack.user_id),
            iterations,
            warmup,
        ),
        await _measure(
            "loopback HTTP, new default `httpx2.AsyncClient()` per turn",
            _with_client(lambda: httpx2.AsyncClient(headers=headers, timeout=30), url),
            iterations,
            warmup,
        ),
        await _measure(
            "loopback HTTP, new client per turn sharing one SSL context",
            _with_client(
                lambda: httpx2.AsyncClient(headers=headers, timeout=30, verify=shared_tls), url
            ),
            iterations,
            warmup,
        ),
    ]
    async with httpx2.AsyncClient(headers=headers, timeout=30) as shared:

        async def kept_alive() -> tuple[int, int]:
            started = time.perf_counter_ns()
            got_result = await _session_round(shared, url)
            return got_result - started, time.perf_counter_ns() - started

        results.append(
            await _measure("loopback HTTP, one kept-alive client", kept_alive, iterations, warmup)
        )
    return results


async def _measure_in_memory(stack: ChatStack, iterations: int, warmup: int) -> McpResult:
    server = stack.runtime.mcp_server

    async def iteration() -> tuple[int, int]:
        started = time.perf_counter_ns()
        with acting_for(stack.user_id):
            async with Client(server) as client:
                tools = await client.list_tools()
                assert any(tool.name == "add_task" for tool in tools.tools)
                result = await client.call_tool("add_task", TOOL_ARGUMENTS)
                assert not result.is_error, result
                got_result = time.perf_counter_ns()
        return got_result - started, time.perf_counter_ns() - started

    return await _measure(
        "in-process `mcp.Client(server)`, a session listing tools itself, for comparison",
        iteration,
        iterations,
        warmup,
    )


async def _measure_stdio(stack: ChatStack, iterations: int) -> McpResult:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "taskpilot.mcp", "stdio"],
        env={**_server_env(stack.database.url), "TASKPILOT_TOKEN": stack.access_token},
        cwd=PROJECT_ROOT,
    )

    async def iteration() -> tuple[int, int]:
        started = time.perf_counter_ns()
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await session.list_tools()
            result = await session.call_tool("add_task", TOOL_ARGUMENTS)
            assert not result.is_error, result
            got_result = time.perf_counter_ns()
        return got_result - started, time.perf_counter_ns() - started

    with _devnull() as errlog:  # the server's stderr (start-up chatter) is not wanted here
        return await _measure("stdio, a new process per turn", iteration, iterations, warmup=0)


def _devnull() -> TextIO:
    return open(os.devnull, "w")  # closed by the caller's `with`


async def measure_mcp(
    stack: ChatStack, iterations: int, warmup: int, stdio_iterations: int
) -> list[McpResult]:
    """Every transport, against the database `stack` runs on."""
    token = mint_mcp_token(stack.runtime.settings, stack.user_id)
    app = stack.runtime.mcp_app

    def in_process_client() -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url=INTERNAL_MCP_BASE,
            headers={"Authorization": f"Bearer {token}"},
        )

    results = [
        await _measure(
            "in-process ASGI (official `mcp` client over streamable HTTP, turns before)",
            _with_client(in_process_client, f"{INTERNAL_MCP_BASE}/mcp"),
            iterations,
            warmup,
        ),
        await _measure(
            "in-process via `McpConnector.session` (what a turn does)",
            _with_connector(stack.runtime.turns.mcp, stack.user_id),
            iterations,
            warmup,
        ),
        await _measure_in_memory(stack, iterations, warmup),
    ]
    with mcp_http_server(stack.database.url) as url:
        results += await _measure_loopback(stack, url, iterations, warmup)
    if stdio_iterations > 0:
        results.append(await _measure_stdio(stack, stdio_iterations))
    return results
