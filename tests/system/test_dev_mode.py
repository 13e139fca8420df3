"""`make run`, the README's first command: Reflex's dev mode, pages on one port (Vite's dev
server) and the API on another (Granian with reload), the browser calling across the two.

The production build has the browser tests; this is the smoke test of dev mode. It runs what
the Makefile's `run` target runs — `reflex run` with bun and node from `.tools` first on PATH,
`REFLEX_USE_SYSTEM_BUN=1`, no telemetry, npm's registry — against a migrated SQLite file and
the default (offline) model, with two changes: free ports instead of 3000 and 8000 (and
`ALLOWED_ORIGINS` naming them, as the defaults name 3000 and 8000), and the backend on
loopback only.

It runs in a copy of the app's files (the package, `rxconfig.py`, `assets/`, `reflex.lock/`)
in a temporary directory, not in the checkout: dev mode compiles into `.web/`, where the
browser tests' production build lives, writes `.states/` and `assets/external/`, may rewrite
`reflex.lock/`, and reads a developer's `.env`. In a copy the checkout stays as it was and
the two modes can run side by side. The copy's first `bun install` comes from bun's cache once
any build has run on the machine.

Skipped, with the reason, without the `.tools` bun and node; the Chromium check also needs
Debian's Chromium. Marked `browser` like the other tests that build and start the frontend.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Request, expect, sync_playwright

from taskpilot.core.config import PROJECT_ROOT, Settings
from taskpilot.core.db import migrate
from taskpilot.web.routes import CHATKIT, HOME
from taskpilot.web.states.chatkit import CHATKIT_API
from tests.support.app_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    START_TIMEOUT,
    STOP_TIMEOUT,
    TOOLS_BIN,
    missing_prerequisites,
    npm_registry,
    port_is_free,
    stop_group,
)
from tests.support.chat_page import TOKEN_KEY, ChatPage
from tests.support.chatkit_page import ELEMENT, chatkit_options, serve_standin
from tests.support.harness import PASSWORD, free_port

pytestmark = pytest.mark.browser

# What dev mode reads from the checkout: the app, its config, its assets, the frontend lockfile.
APP_FILES = ("rxconfig.py", ".gitignore", "taskpilot", "assets", "reflex.lock")
# Vite compiles a page's modules on its first request: the first load in Chromium is slow.
FIRST_LOAD_MS = 120_000
# Then the page's websocket reaches the backend and its state hands ChatKit its options.
CONFIGURED_MS = 60_000


@dataclass
class DevServer:
    """A running `reflex run` (dev mode) in a copy of the app."""

    process: subprocess.Popen[bytes]
    frontend_port: int
    backend_port: int
    workdir: Path
    log_path: Path

    @property
    def frontend_url(self) -> str:
        # What `reflex run` prints ("App running at: http://localhost:<port>/").
        return f"http://localhost:{self.frontend_port}"

    @property
    def backend_url(self) -> str:
        return f"http://localhost:{self.backend_port}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Account:
    token: str
    id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def missing_tools() -> str | None:
    """Why dev mode cannot start here (no bun or node in `.tools`), or None when it can."""
    for tool in ("bun", "node"):
        if not (TOOLS_BIN / tool).exists():
            return f"{TOOLS_BIN / tool} is missing (`make install` puts bun and node 22 there)"
    return None


def copy_app(workdir: Path) -> None:
    """The files dev mode needs, as they are in the working tree (not only what is committed:
    `make run` runs the working tree), without caches or build output."""
    for name in APP_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "external")
            shutil.copytree(source, workdir / name, ignore=ignore)
        else:
            shutil.copy2(source, workdir / name)


def dev_env(database_url: str, frontend_port: int, backend_port: int) -> dict[str, str]:
    """The environment `make run` gives Reflex; of TaskPilot's settings only the database and
    the origins (the rest are their defaults: the offline model, self-hosted ChatKit)."""
    setting_names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in setting_names}
    # The server runs the copy of the package: coverage would report its files under the
    # temporary directory. Reflex picks its workers and ports itself in dev mode.
    for name in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START", "GRANIAN_WORKERS"):
        env.pop(name, None)
    origins = [
        f"http://{host}:{port}"
        for port in (frontend_port, backend_port)
        for host in ("localhost", "127.0.0.1")
    ]
    env.update(
        PATH=f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}",
        REFLEX_USE_SYSTEM_BUN="1",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
        NPM_CONFIG_REGISTRY=npm_registry(),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url,
        ALLOWED_ORIGINS=",".join(origins),
    )
    return env


def start_dev(workdir: Path) -> DevServer:
    """Copy the app, migrate a fresh SQLite file (`make run` migrates first), start
    `reflex run` on two free ports, and wait until the page and the API answer."""
    copy_app(workdir)
    database_path = workdir / "taskpilot.db"
    migrate(f"sqlite:///{database_path}")
    frontend_port, backend_port = free_port(), free_port()
    while backend_port == frontend_port:
        backend_port = free_port()
    log_path = workdir / "reflex-dev.log"
    command = [
        str(PROJECT_ROOT / ".venv" / "bin" / "reflex"),
        "run",
        "--frontend-port",
        str(frontend_port),
        "--backend-port",
        str(backend_port),
        "--backend-host",
        "127.0.0.1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=dev_env(f"sqlite:///{database_path}", frontend_port, backend_port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: bun, Vite, the reload worker
        )
    server = DevServer(process, frontend_port, backend_port, workdir, log_path)
    try:
        wait_until_serving(server)
    except BaseException:
        stop_dev(server)
        raise
    return server


def wait_until_serving(server: DevServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=10) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise AssertionError(
                    f"reflex run exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                health = http.get(f"http://127.0.0.1:{server.backend_port}/api/health")
                page = http.get(f"http://127.0.0.1:{server.frontend_port}{HOME}")
                if health.status_code == 200 and page.status_code == 200:
                    return
            time.sleep(0.5)
    raise AssertionError(f"dev mode did not start in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


def stop_dev(server: DevServer) -> None:
    """Stop the whole group (Reflex, bun, Vite, the backend); both ports are free afterwards."""
    stop_group(server.process, server.backend_port, STOP_TIMEOUT)
    deadline = time.monotonic() + 10
    while not port_is_free(server.frontend_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_is_free(server.frontend_port), f"port {server.frontend_port} is still in use"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    if reason := missing_tools():
        pytest.skip(f"dev mode test skipped: {reason}")
    server = start_dev(tmp_path_factory.mktemp("taskpilot-dev"))
    try:
        yield server
    finally:
        stop_dev(server)
        # The copy's frontend packages (~200 MB); its log and compiled pages stay.
        shutil.rmtree(server.workdir / ".web" / "node_modules", ignore_errors=True)


@pytest.fixture(scope="module")
def account(dev: DevServer) -> Account:
    """An account made through the API on the backend port."""
    email = f"dev-{uuid.uuid4().hex[:10]}@example.com"
    response = httpx.post(
        f"{dev.backend_url}/api/auth/signup",
        json={"email": email, "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(body["access_token"], body["user"]["id"])


def test_make_run_serves_the_pages_and_the_api_on_two_ports(dev: DevServer) -> None:
    page = httpx.get(f"{dev.frontend_url}{HOME}", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.lstrip().lower().startswith("<!doctype html>")

    health = httpx.get(f"{dev.backend_url}/api/health", timeout=30)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_a_turn_through_the_api_on_the_backend_port(dev: DevServer, account: Account) -> None:
    with httpx.Client(base_url=dev.backend_url, headers=account.headers, timeout=60) as api:
        turn = api.post(f"/api/{account.id}/chat", json={"message": "add buy milk"})
        assert turn.status_code == 200, turn.text
        body = turn.json()
        assert "Buy milk" in body["response"]
        assert [call["name"] for call in body["tool_calls"]] == ["add_task"]

        tasks = api.get(f"/api/{account.id}/tasks")
        assert tasks.status_code == 200, tasks.text
        assert [task["title"] for task in tasks.json()["tasks"]] == ["Buy milk"]


def test_the_chatkit_page_is_told_to_call_the_backend_port(dev: DevServer) -> None:
    page = httpx.get(f"{dev.frontend_url}{CHATKIT}", timeout=60)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")

    # The ChatKit wrapper (chatkit_embed.jsx) builds its API URL as
    # `new URL(api_path, getBackendURL(env.UPLOAD))`, from the env.json Vite serves the page.
    env = httpx.get(f"{dev.frontend_url}/env.json", timeout=30).json()
    api_url = urljoin(env["UPLOAD"], CHATKIT_API)
    assert api_url == f"{dev.backend_url}{CHATKIT_API}"

    # That URL is on another origin than the page: the browser asks first, and the backend
    # must say yes to the dev page's origin.
    preflight = httpx.options(
        api_url,
        headers={
            "Origin": dev.frontend_url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=30,
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == dev.frontend_url


def test_in_chromium_the_chatkit_page_reaches_the_backend(dev: DevServer, account: Account) -> None:
    if reason := missing_prerequisites():
        pytest.skip(f"browser check skipped: {reason}")
    # The account's threads as the API lists them (the API turn's, when that test ran).
    conversations = httpx.get(
        f"{dev.backend_url}/api/{account.id}/conversations", headers=account.headers, timeout=30
    ).json()["conversations"]
    sent: list[Request] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(
                storage_state={
                    "cookies": [],
                    "origins": [
                        {
                            "origin": dev.frontend_url,
                            "localStorage": [{"name": TOKEN_KEY, "value": account.token}],
                        }
                    ],
                }
            )
            chat = ChatPage(context.new_page(), dev.frontend_url)
            page = chat.page
            page.on("request", lambda r: sent.append(r) if CHATKIT_API in r.url else None)
            serve_standin(page)  # ChatKit's own script comes from OpenAI's CDN
            page.goto(f"{dev.frontend_url}{CHATKIT}", timeout=FIRST_LOAD_MS)
            configured = "the page never configured ChatKit (no websocket to the backend?)"
            expect(page.locator(ELEMENT), configured).to_be_attached(timeout=CONFIGURED_MS)
            frame = page.locator(".tp-chatkit-frame")
            expect(frame).to_have_attribute("data-ready", "true", timeout=30_000)

            options = chatkit_options(chat)
            assert options["api"]["url"] == f"{dev.backend_url}{CHATKIT_API}"

            # A request the way ChatKit sends it, through the wrapper's fetch: it crosses to
            # the backend port, passes CORS and the token check, and lists the API's thread.
            answer = page.evaluate(
                "body => window.__chatkit.request(body)", {"type": "threads.list", "params": {}}
            )
            assert answer["status"] == 200, answer
            threads = json.loads(answer["body"])["data"]
            assert [thread["id"] for thread in threads] == [c["id"] for c in conversations]
            assert {urlsplit(request.url).port for request in sent} == {dev.backend_port}
        finally:
            chromium.close()
