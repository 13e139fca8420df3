"""Fixtures for the browser tests: one production server and one Chromium for the package,
a fresh account and fresh browser contexts for each test, the model scripted per test.

Skipped, with the reason printed, when Debian's Chromium or the `.tools` bun/node are missing
(`make test` installs both, so CI runs these tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ViewportSize, expect, sync_playwright

from tests.support.app_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REDIS_URL,
    AppServer,
    hosted_chatkit_env,
    missing_prerequisites,
    redis_problem,
    start_app,
    stop_app,
)
from tests.support.chat_page import SCREENSHOTS, TOKEN_KEY, Account, ChatPage
from tests.support.harness import PASSWORD
from tests.support.standin import BrowserStandIn

SELF_HOSTED, HOSTED = "self-hosted", "hosted"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


def _require_browser() -> None:
    if reason := missing_prerequisites():
        pytest.skip(f"browser tests skipped: {reason}")


def app_mode(item: pytest.Item) -> str:
    """The ChatKit mode the test's server runs in (`app` is parametrized by it)."""
    callspec = getattr(item, "callspec", None)
    return str(callspec.params.get("app", SELF_HOSTED)) if callspec else SELF_HOSTED


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hosted-mode ChatKit tests need a server started with other settings: run them after
    the other browser tests, so the server is switched once."""
    hosted = [item for item in items if app_mode(item) == HOSTED]
    if not hosted:
        return
    rest = [item for item in items if app_mode(item) != HOSTED]
    here = Path(__file__).parent
    last = max((n for n, item in enumerate(rest) if here in item.path.parents), default=-1)
    items[:] = [*rest[: last + 1], *hosted, *rest[last + 1 :]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --- package-wide: the model stand-in, the server, the browser ----------------------------------


@pytest.fixture(scope="package")
def standin() -> Iterator[BrowserStandIn]:
    _require_browser()
    server = BrowserStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def app(
    standin: BrowserStandIn,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[AppServer]:
    """`reflex run --env prod` on a free port: SQLite file, stand-in model, Redis workers;
    ChatKit self-hosted unless a test asks for `hosted` (indirect parametrization)."""
    mode = getattr(request, "param", SELF_HOSTED)
    problem = redis_problem()
    if problem:
        _say(request.config, f"browser: {problem}; running one Granian worker, no Redis")
    server = start_app(
        tmp_path_factory.mktemp("taskpilot-app"),
        standin.base_url,
        None if problem else REDIS_URL,
        extra_env=hosted_chatkit_env(standin.base_url) if mode == HOSTED else None,
    )
    state = f"Redis {server.redis_url}" if server.redis_url else "in-process state"
    _say(
        request.config,
        f"\nbrowser: reflex run --env prod on {server.base_url} "
        f"({server.workers} Granian worker(s), {state}, ChatKit {mode}; log {server.log_path})",
    )
    if server.attempt > 1:
        _say(request.config, f"browser: the first build failed (see {server.log_path.parent})")
    workers = server.worker_pids()
    if len(workers) != server.workers:
        stop_app(server)
        pytest.fail(f"expected {server.workers} Granian workers, found {workers}")
    yield server
    stop_app(server)


@pytest.fixture(scope="package")
def browser(app: AppServer) -> Iterator[Browser]:
    expect.set_options(timeout=10_000)
    for stale in SCREENSHOTS.glob("FAILED-*.png"):
        stale.unlink()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- per test -----------------------------------------------------------------------------------


@pytest.fixture
def model(standin: BrowserStandIn) -> BrowserStandIn:
    """The stand-in model, with nothing scripted or recorded yet."""
    standin.reset()
    return standin


@pytest.fixture
def api(app: AppServer) -> Iterator[httpx.Client]:
    """An HTTP client on the same server, to check what the UI stored."""
    with httpx.Client(base_url=app.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def new_account(api: httpx.Client) -> Callable[[], Account]:
    """Sign up a fresh account through the API (the sign-up page has its own tests)."""

    def create() -> Account:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        response = api.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        body = response.json()
        return Account(email, PASSWORD, body["access_token"], body["user"]["id"])

    return create


@pytest.fixture
def account(new_account: Callable[[], Account]) -> Account:
    return new_account()


@pytest.fixture
def open_page(
    app: AppServer, browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[..., ChatPage]]:
    """Open a tab in a fresh browser context, signed in as `account` (its token in
    localStorage, as the log-in page leaves it) or signed out."""
    contexts: list[tuple[BrowserContext, ChatPage]] = []

    def open_tab(
        account: Account | None = None,
        viewport: ViewportSize = DESKTOP,
        permissions: list[str] | None = None,
        timezone_id: str | None = None,
    ) -> ChatPage:
        storage: Any = {"cookies": [], "origins": []}
        if account is not None:
            storage["origins"] = [
                {
                    "origin": app.base_url,
                    "localStorage": [{"name": TOKEN_KEY, "value": account.token}],
                }
            ]
        context = browser.new_context(
            base_url=app.base_url,
            viewport=viewport,
            storage_state=storage,
            permissions=permissions or [],
            timezone_id=timezone_id,
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        chat = ChatPage(page, app.base_url)

        def on_dialog(dialog: Any) -> None:
            chat.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: chat.page_errors.append(str(error)))

        def on_console(message: Any) -> None:
            if "Content Security Policy" in message.text:
                chat.csp_violations.append(message.text)

        page.on("console", on_console)
        contexts.append((context, chat))
        return chat

    yield open_tab
    blocked = [text for _, chat in contexts for text in chat.csp_violations]
    failed = getattr(request.node, "report_call", None)
    for index, (context, chat) in enumerate(contexts):
        if failed is not None and failed.failed:
            name = request.node.name.replace("/", "_")
            chat.screenshot(f"FAILED-{name}-{index}")
            if chat.page_errors:
                print(f"page errors in tab {index}: {chat.page_errors}")
        context.close()
    # Every browser test is also a test that the pages' policy blocks nothing of the app's.
    assert blocked == [], f"the content-security policy blocked: {blocked[:3]}"
