"""The page's Reflex states, driven directly: a real runtime (SQLite, MCP server, a scripted
model), a state tree built the way Reflex's test mode allows, and handlers called as Reflex
calls them. The browser tests drive the same handlers through a real page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from agents.testing import ScriptedModel
from reflex.state import State

from taskpilot.core.config import Settings
from taskpilot.web.states import (
    auth,
    chat,
    chatkit,
    edits,
    export,
    history,
    live,
    stored,
    tasks,
    turn_stream,
    undo,
)
from tests.support.harness import make_settings, scripted_runtime
from tests.support.live_tabs import Watchers
from tests.support.web_states import Page


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
async def tab(settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch) -> Page:
    """A fresh tab whose states reach a started runtime with a scripted model."""
    model = ScriptedModel([])
    runtime = await running(scripted_runtime(settings, model))
    states = (auth, chat, chatkit, edits, export, history, live, stored, tasks, turn_stream, undo)
    for module in states:
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


@pytest.fixture
async def watchers() -> AsyncIterator[Watchers]:
    """Tabs' watchers, started by the test (`Watchers.start`) and ended after it."""
    started = Watchers()
    yield started
    await started.stop()
