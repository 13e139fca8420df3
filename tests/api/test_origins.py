"""The server's own origin always works; other origins only when ALLOWED_ORIGINS lists them.

A real production start (`taskpilot.serve`, one worker) whose ALLOWED_ORIGINS names some
other site: the page's websocket (Reflex's Socket.IO) and the ChatKit endpoint still take a
page served from the server itself, by whatever host name and port it is reached, and refuse
a foreign page.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from taskpilot.core.db import migrate
from taskpilot.core.origins import origin_allowed, own_origin
from tests.support.cluster import Server, launch, sign_up, stop_server, wait_until_serving
from tests.support.harness import make_settings

ELSEWHERE = "https://tasks.example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("origins")
    url = f"sqlite:///{workdir / 'taskpilot.db'}"
    migrate(url)
    started = launch(
        "origins",
        workdir,
        url,
        "http://127.0.0.1:9/v1",
        extra_env={"ALLOWED_ORIGINS": ELSEWHERE, "SIGN_IN_ATTEMPTS": "0"},
    )
    try:
        wait_until_serving(started, workers=1)
        yield started
    finally:
        stop_server(started)


def _websocket(server: Server, origin: str, host: str | None = None) -> bool:
    """Whether the page's websocket handshake is accepted from `origin` (reaching the server
    as `host`, when given: its URL's host name, over a socket to the server)."""
    url = f"ws://{host or f'127.0.0.1:{server.port}'}/_event/?EIO=4&transport=websocket"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        with connect(url, sock=sock, origin=origin, open_timeout=10):  # type: ignore[arg-type]
            return True
    except InvalidStatus:
        return False
    finally:
        sock.close()


def test_the_page_websocket_takes_its_own_origin_and_listed_ones_only(server: Server) -> None:
    own = f"http://127.0.0.1:{server.port}"
    assert _websocket(server, own)
    # Reached by another name (a proxy or DNS name in front): that name's origin is its own.
    assert _websocket(server, "http://tasks.internal:8443", host="tasks.internal:8443")
    assert _websocket(server, ELSEWHERE)
    assert not _websocket(server, "https://evil.example")


async def test_chatkit_takes_its_own_origin_and_refuses_a_foreign_page(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        me = await sign_up(http, f"ada-{uuid.uuid4().hex[:8]}@example.com")
        body = {"type": "threads.list", "params": {"limit": 5}}
        own = {**me.headers, "Origin": server.base_url}
        foreign = {**me.headers, "Origin": "https://evil.example"}
        assert (await http.post("/api/chatkit", json=body, headers=own)).status_code == 200
        refused = await http.post("/api/chatkit", json=body, headers=foreign)
        assert refused.status_code == 403


def test_own_origin_reads_the_proxy_headers_only_behind_trusted_proxies(tmp_path: Path) -> None:
    headers = {"host": "10.0.0.5:3000", "x-forwarded-proto": "https", "x-forwarded-host": "a.io"}
    assert own_origin("http", headers, 0) == "http://10.0.0.5:3000"
    assert own_origin("http", headers, 1) == "https://a.io"
    assert own_origin("http", {}, 0) is None
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}")
    assert origin_allowed(None, "http", {}, settings)  # not a browser page
    assert origin_allowed("http://localhost:3000/", "http", {"host": "x"}, settings)
    assert not origin_allowed("https://a.io", "http", headers, settings)
