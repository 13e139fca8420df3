"""One conversation in the history sidebar: a link, and its options (rename, delete)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.layout import LayoutState
from taskpilot.web.view_models import ConversationView

# True in the browser when the history is a drawer (see assets/taskpilot.css).
NARROW: rx.Var[bool] = rx.Var("window.matchMedia('(max-width: 767px)').matches", _var_type=bool)


def conversation_item(conversation: ObjectVar[ConversationView]) -> rx.Component:
    """The group heading (when this item starts one) and the item itself."""
    current = rx.cond(conversation.id == ChatState.current_id, "page", "false")
    return rx.fragment(
        rx.cond(
            conversation.first_in_group,
            rx.el.div(conversation.group, class_name="tp-history-group"),
        ),
        rx.el.div(
            rx.link(
                conversation.title,
                href="/c/" + conversation.id.to(str),
                class_name="tp-history-link",
                title=conversation.title,
                custom_attrs={"aria-current": current},
                on_click=LayoutState.close_drawers(NARROW),  # type: ignore[operator]
            ),
            rx.dropdown_menu.root(
                rx.dropdown_menu.trigger(
                    icon_action(
                        "ellipsis",
                        "Conversation options",
                        box=28,
                        class_name="tp-history-options",
                    ),
                ),
                rx.dropdown_menu.content(
                    rx.dropdown_menu.item(
                        rx.icon("pencil", size=14),
                        "Rename",
                        on_select=HistoryState.start_rename(conversation.id, conversation.title),  # type: ignore[operator]
                    ),
                    rx.dropdown_menu.item(
                        rx.icon("trash-2", size=14),
                        "Delete",
                        color="red",
                        on_select=HistoryState.start_delete(conversation.id, conversation.title),  # type: ignore[operator]
                    ),
                    align="start",
                ),
            ),
            class_name="tp-history-item",
            custom_attrs={"data-testid": "conversation-item", "aria-current": current},
        ),
    )
