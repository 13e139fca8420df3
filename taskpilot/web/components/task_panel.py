"""The task panel beside the chat: the person's tasks, filtered, live."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.drawer_focus import CLOSE_ON_ESCAPE
from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.components.task_filter import task_filter
from taskpilot.web.components.task_item import task_item
from taskpilot.web.states.layout import LayoutState
from taskpilot.web.states.tasks import TaskState


def _empty() -> rx.Component:
    return rx.el.div(
        rx.match(
            TaskState.status_filter,
            ("pending", "Nothing pending. Nice."),
            ("completed", "No completed tasks yet."),
            "No tasks yet. Try “Add buy milk tomorrow”.",
        ),
        class_name="tp-task-empty",
    )


def task_panel() -> rx.Component:
    """A complementary landmark named "Tasks" (a drawer on narrower screens)."""
    return rx.el.aside(
        rx.el.div(
            rx.heading("Tasks", as_="h2", size="3", weight="medium", flex="1"),
            rx.text(
                TaskState.pending_count.to_string() + " open",
                size="1",
                color_scheme="gray",
            ),
            icon_action(
                "x",
                "Close tasks",
                LayoutState.toggle_tasks,
                icon_size=18,
                class_name="tp-drawer-close",
            ),
            class_name="tp-panel-head",
        ),
        rx.el.div(task_filter(), class_name="tp-task-filter"),
        rx.cond(
            TaskState.task_error != "",
            rx.box(
                rx.callout(
                    TaskState.task_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    role="alert",
                ),
                padding="0 16px 8px",
            ),
        ),
        rx.el.div(
            rx.foreach(TaskState.visible_tasks, task_item),
            rx.cond(TaskState.loaded & (TaskState.visible_tasks.length() == 0), _empty()),
            class_name="tp-task-list",
        ),
        aria_label="Tasks",
        class_name="tp-tasks",
        id="tasks",
        custom_attrs={"onKeyDown": CLOSE_ON_ESCAPE},
    )
