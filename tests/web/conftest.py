"""The page's Reflex states, driven directly: a real runtime (SQLite, MCP server, a scripted
model), a state tree built the way Reflex's test mode allows, and handlers called as Reflex
calls them. The browser tests drive the same handlers through a real page."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from agents.testing import ScriptedModel
from reflex.istate.data import RouterData
from reflex.state import BaseState, State
from reflex_base.event import EventSpec

from taskpilot.core.config import Settings
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.security import mint_access_token
from taskpilot.runtime import Runtime
from taskpilot.services.users import UserService
from taskpilot.web.states import auth, chat, chatkit, history, tasks
from taskpilot.web.states.auth import AuthState
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.chatkit import ChatKitState
from taskpilot.web.states.composer import ComposerState
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.layout import LayoutState
from taskpilot.web.states.tasks import TaskState
from tests.conftest import make_settings, scripted_runtime


async def call(state: BaseState, handler: str, *args: Any) -> Any:
    """Run an event handler the way Reflex does; a generator's events come back as a list."""
    result = type(state).event_handlers[handler].fn(state, *args)
    if inspect.isasyncgen(result):
        return [event async for event in result]
    if inspect.iscoroutine(result):
        return await result
    return result


def asks_browser_zone(events: Any) -> bool:
    """True when a handler's events ask the browser for its time zone, answered to
    `AuthState.remember_timezone` (what a page load ends with)."""
    for event in events if isinstance(events, list) else [events]:
        if isinstance(event, EventSpec) and event.handler.fn.__qualname__ == "_call_script":
            args = dict((str(k), v) for k, v in event.args)
            code = str(args["javascript_code"]._var_value)  # type: ignore[attr-defined]
            callback = str(args["callback"])
            if "resolvedOptions().timeZone" in code and "remember_timezone" in callback:
                return True
    return False


@dataclass
class Page:
    """One browser tab's state tree, on a real runtime."""

    runtime: Runtime
    model: ScriptedModel
    root: State

    def state(self, cls: type[BaseState]) -> Any:
        path = [c.get_name() for c in reversed(cls.__mro__) if _is_state(c) and c is not State]
        return self.root.get_substate(path)

    @property
    def auth(self) -> AuthState:
        return self.state(AuthState)  # type: ignore[no-any-return]

    @property
    def chat(self) -> ChatState:
        return self.state(ChatState)  # type: ignore[no-any-return]

    @property
    def history(self) -> HistoryState:
        return self.state(HistoryState)  # type: ignore[no-any-return]

    @property
    def tasks(self) -> TaskState:
        return self.state(TaskState)  # type: ignore[no-any-return]

    @property
    def chatkit(self) -> ChatKitState:
        return self.state(ChatKitState)  # type: ignore[no-any-return]

    @property
    def composer(self) -> ComposerState:
        return self.state(ComposerState)  # type: ignore[no-any-return]

    @property
    def layout(self) -> LayoutState:
        return self.state(LayoutState)  # type: ignore[no-any-return]

    def visit(self, path: str) -> None:
        """The browser is on `path` (what the next event's router data says)."""
        route = path
        if path.startswith("/c/"):
            route = "/c/[conversation_id]"
        elif path.startswith("/chatkit/"):
            route = "/chatkit/[thread_id]"
        self.root.router = RouterData.from_router_data(
            {"pathname": route, "asPath": path, "headers": {"origin": "http://localhost:3000"}}
        )

    async def sign_up(self, email: str = "ada@example.com", name: str = "Ada Lovelace") -> str:
        """An account, signed in in this tab; returns the user id."""
        async with self.runtime.db.session() as session:
            user = await UserService(session).sign_up(email, "correct horse battery", name)
        self.auth.token, _ = mint_access_token(self.runtime.settings, user.id, user.email)
        return user.id

    def database_down(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every new database session fails as if the server were unreachable."""

        @asynccontextmanager
        async def unavailable() -> Any:
            raise DatabaseUnavailable()
            yield  # pragma: no cover - never reached

        monkeypatch.setattr(self.runtime.db, "session", unavailable)


def _is_state(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, BaseState) and cls is not BaseState


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
async def tab(settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch) -> Page:
    """A fresh tab whose states reach a started runtime with a scripted model."""
    model = ScriptedModel([])
    runtime = await running(scripted_runtime(settings, model))
    for module in (auth, chat, chatkit, history, tasks):
        monkeypatch.setattr(module, "get_runtime", lambda: runtime)
    root = State(_reflex_internal_init=True)
    tab = Page(runtime, model, root)
    tab.visit("/")
    return tab


@pytest.fixture
def another_tab(tab: Page) -> Iterator[Callable[[], Page]]:
    """More tabs on the same runtime (another browser of the same person, or another person)."""

    def make() -> Page:
        other = Page(tab.runtime, tab.model, State(_reflex_internal_init=True))
        other.visit("/")
        return other

    yield make
