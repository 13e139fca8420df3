"""‹ 1 / 2 › under an edited question: its earlier versions, each shown with the branch it
began (read-only), and back to the newest."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.edits import EditState
from taskpilot.web.view_models import MessageView


def version_switch(message: ObjectVar[MessageView]) -> rx.Component:
    """Shown on a question with more than one version."""
    version = message.version.to(int)
    versions = message.versions.to(int)
    return rx.el.div(
        icon_action(
            "chevron-left",
            "Previous version",
            EditState.show_version(message.key, version - 1),  # type: ignore[operator]
            icon_size=14,
            box=24,
            disabled=(version <= 1) | ChatState.streaming,
        ),
        rx.el.span(
            version.to_string() + " / " + versions.to_string(),
            class_name="tp-version-count",
            custom_attrs={"data-testid": "message-version"},
        ),
        icon_action(
            "chevron-right",
            "Next version",
            EditState.show_version(message.key, version + 1),  # type: ignore[operator]
            icon_size=14,
            box=24,
            disabled=(version >= versions) | ChatState.streaming,
        ),
        class_name="tp-versions",
        role="group",
        aria_label="Versions",
    )
