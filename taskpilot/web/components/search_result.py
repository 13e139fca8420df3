"""A conversation found by "Search chats": a link with its title and snippet, matched words
marked. The parts are text (React escapes them): nothing from a message is read as markup."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.conversation_item import NARROW
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.layout import LayoutState
from taskpilot.web.view_models import SearchResultView, TextPartView


def _part(part: ObjectVar[TextPartView]) -> rx.Component:
    return rx.cond(part.marked, rx.el.mark(part.text), rx.el.span(part.text))


def search_result(result: ObjectVar[SearchResultView]) -> rx.Component:
    """One result; choosing it opens the conversation (and closes the drawer)."""
    current = rx.cond(result.id == ChatState.current_id, "page", "false")
    return rx.link(
        rx.el.span(rx.foreach(result.title, _part), class_name="tp-search-title"),
        rx.cond(
            result.snippet.length() > 0,
            rx.el.span(
                rx.foreach(result.snippet, _part),
                class_name="tp-search-snippet",
                custom_attrs={"data-testid": "search-snippet"},
            ),
        ),
        href="/c/" + result.id.to(str),
        class_name="tp-search-result",
        custom_attrs={"data-testid": "search-result", "aria-current": current},
        on_click=LayoutState.close_drawers(NARROW),  # type: ignore[operator]
    )
