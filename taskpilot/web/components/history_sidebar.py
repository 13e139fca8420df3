"""The thread-history sidebar: "Search chats", and the person's conversations, newest first
(or, while a search has text, the conversations that match it)."""

from __future__ import annotations

import reflex as rx

from taskpilot.services.search import MAX_QUERY_CHARS
from taskpilot.web.components.brand_mark import brand_mark
from taskpilot.web.components.conversation_item import conversation_item
from taskpilot.web.components.drawer_focus import CLOSE_ON_ESCAPE
from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.components.search_result import search_result
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.layout import LayoutState

SEARCH_DEBOUNCE_MS = 250

# Escape in a search box with text empties it (the debounced change then shows the whole list
# again) and goes no further; in an empty one it closes the drawer as anywhere in it.
_CLEAR_ON_ESCAPE: rx.Var = rx.Var(
    "((event) => { const box = event.currentTarget;"
    " if (event.key !== 'Escape' || !box.value) return;"
    " event.stopPropagation(); event.preventDefault();"
    " Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(box, '');"
    " box.dispatchEvent(new Event('input', { bubbles: true })); })"
)


def _search_box() -> rx.Component:
    return rx.el.div(
        rx.icon("search", size=15, class_name="tp-search-icon", aria_hidden="true"),
        rx.debounce_input(
            rx.el.input(
                type="search",
                placeholder="Search chats",
                aria_label="Search chats",
                auto_complete="off",
                max_length=MAX_QUERY_CHARS,
                value=HistoryState.search_query,
                on_change=HistoryState.search,
                custom_attrs={"onKeyDown": _CLEAR_ON_ESCAPE},
                class_name="tp-search-input",
            ),
            debounce_timeout=SEARCH_DEBOUNCE_MS,
        ),
        class_name="tp-search",
        role="search",
    )


def _conversations() -> rx.Component:
    return rx.fragment(
        rx.foreach(HistoryState.conversations, conversation_item),
        rx.cond(
            HistoryState.conversations.length() == 0,
            rx.el.div("No conversations yet.", class_name="tp-history-empty"),
        ),
    )


def _search_results() -> rx.Component:
    return rx.fragment(
        rx.foreach(HistoryState.search_results, search_result),
        rx.cond(
            HistoryState.search_results.length() == 0,
            rx.el.div("No chats match", class_name="tp-history-empty", role="status"),
        ),
    )


def history_sidebar() -> rx.Component:
    """The sidebar (a drawer on narrow screens, see assets/taskpilot.css)."""
    return rx.el.div(
        rx.el.div(
            rx.el.div(brand_mark(), "TaskPilot", class_name="tp-brand"),
            icon_action(
                "x",
                "Close history",
                LayoutState.toggle_history,
                icon_size=18,
                class_name="tp-drawer-close",
            ),
            class_name="tp-panel-head",
        ),
        _search_box(),
        rx.el.nav(
            rx.cond(
                HistoryState.history_error != "",
                rx.el.div(HistoryState.history_error, class_name="tp-history-empty", role="alert"),
            ),
            rx.cond(HistoryState.search_query.strip() != "", _search_results(), _conversations()),
            aria_label="Conversations",
            class_name="tp-history-nav",
        ),
        class_name="tp-history",
        id="history",
        custom_attrs={"onKeyDown": CLOSE_ON_ESCAPE},
    )
