"""The page's Reflex states driven without a browser: a tab (`Page`) whose state tree is built
the way Reflex's test mode allows, handlers called as Reflex calls them, and readers of the
events a handler returns."""

from __future__ import annotations

import inspect
import json
import re
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from agents.testing import ScriptedModel
from reflex.istate.data import RouterData
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.istate.proxy import StateProxy
from reflex.state import BaseState, State
from reflex_base.event import EventSpec
from reflex_base.event.context import EventContext

from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.security import mint_access_token
from taskpilot.runtime import Runtime
from taskpilot.services.users import UserService
from taskpilot.web.states.auth import AuthState
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.chatkit import ChatKitState
from taskpilot.web.states.composer import ComposerState
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.layout import LayoutState
from taskpilot.web.states.live import LiveState
from taskpilot.web.states.tasks import TaskState


async def call(state: BaseState, handler: str, *args: Any) -> Any:
    """Run an event handler the way Reflex does, under the tab's state lock (`_tab_of`); a
    generator's events come back as a list. A background handler runs on a `StateProxy`,
    which lets it change the state only inside `async with self`, where it takes the lock."""
    manager, token = _tab_of(state)
    event_handler = type(state).event_handlers[handler]
    with EventContext(token=token, state_manager=manager, enqueue_impl=_not_sent):
        if event_handler.is_background:
            return await _run(event_handler.fn(StateProxy(state), *args))
        async with manager.modify_state(BaseStateToken(ident=token, cls=type(state))):
            return await _run(event_handler.fn(state, *args))


async def _run(result: Any) -> Any:
    if inspect.isasyncgen(result):
        return [event async for event in result]
    if inspect.iscoroutine(result):
        return await result
    return result


async def _not_sent(token: str, *events: Any) -> None:
    """Events a handler returns come back to the test; none is run by itself."""


def _tab_of(state: BaseState) -> tuple[StateManagerMemory, str]:
    """The state manager holding this tab's tree (and only it), and the tab's token: the
    tab's handlers share its one lock. Kept on the tree itself, so it goes with it."""
    root = state._get_root_state()
    tab: tuple[StateManagerMemory, str] | None = root.__dict__.get("_test_tab")
    if tab is None:
        tab = (StateManagerMemory(), uuid.uuid4().hex)
        tab[0].states[tab[1]] = root
        object.__setattr__(root, "_test_tab", tab)
    return tab


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
        path = cls.get_full_name().split(".")[1:]  # below the root `State`; mixins are not in it
        return self.root.get_substate(path)

    @property
    def auth(self) -> AuthState:
        return self.state(AuthState)  # type: ignore[no-any-return]

    @property
    def chat(self) -> ChatState:
        return self.state(ChatState)  # type: ignore[no-any-return]

    @property
    def live(self) -> LiveState:
        return self.state(LiveState)  # type: ignore[no-any-return]

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
        data = {"pathname": route, "asPath": path, "headers": {"origin": "http://localhost:3000"}}
        self.root.router = RouterData.from_router_data(data)
        # A tree with router data is one a background handler's proxy takes as it is (one
        # without, Reflex takes for expired, and hydrates again).
        self.root.router_data = data

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


def redirect_to(events: Any) -> str | None:
    """The path of the first redirect among the events a handler returned, if any."""
    for event in events if isinstance(events, list) else [events]:
        if isinstance(event, EventSpec) and event.handler.fn.__qualname__ == "_redirect":
            return str(dict((str(k), v) for k, v in event.args)["path"]._var_value)  # type: ignore[attr-defined]
    return None


def url_replaced_with(events: Any) -> str | None:
    """The path a handler's returned script puts in the address bar in place (no route
    change), if any."""
    for event in events if isinstance(events, list) else [events]:
        if isinstance(event, EventSpec) and event.handler.fn.__qualname__ == "_call_script":
            code = str(dict((str(k), v) for k, v in event.args)["javascript_code"]._var_value)  # type: ignore[attr-defined]
            found = re.fullmatch(
                r"window\.history\.replaceState\(window\.history\.state, '', (\"[^\"]*\")\)", code
            )
            if found:
                return str(json.loads(found.group(1)))
    return None
