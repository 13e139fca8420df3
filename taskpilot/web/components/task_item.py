"""One task in the task panel: complete/reopen, title, badges (priority, due date, the
repeat in words), tags, delete."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.view_models import TaskView


def _priority_badge(task: ObjectVar[TaskView]) -> rx.Component:
    return rx.match(
        task.priority,
        ("high", rx.badge("High", color_scheme="red", variant="soft", size="1")),
        ("low", rx.badge("Low", color_scheme="gray", variant="soft", size="1")),
        rx.badge("Medium", color_scheme="amber", variant="soft", size="1"),
    )


def _due_badge(task: ObjectVar[TaskView]) -> rx.Component:
    return rx.cond(
        task.due_label != "",
        rx.badge(
            rx.icon("calendar", size=11),
            task.due_label,
            color_scheme=rx.match(
                task.due_tone, ("overdue", "red"), ("today", "orange"), ("soon", "blue"), "gray"
            ),
            variant="outline",
            size="1",
            custom_attrs={"data-testid": "task-due"},
        ),
    )


def _repeat_badge(task: ObjectVar[TaskView]) -> rx.Component:
    return rx.cond(
        task.repeat_label != "",
        rx.badge(
            rx.icon("repeat", size=11, aria_hidden="true"),
            task.repeat_label,
            color_scheme="violet",
            variant="outline",
            size="1",
            custom_attrs={"data-testid": "task-repeat"},
        ),
    )


def task_item(task: ObjectVar[TaskView]) -> rx.Component:
    """A row; its buttons act through the MCP tools (see TaskState)."""
    number = task.task_id.to_string()
    return rx.el.div(
        rx.cond(
            task.completed,
            icon_action(
                "circle-check",
                "Reopen task " + number,
                TaskState.reopen_task(task.task_id),  # type: ignore[misc]
                icon_size=18,
                box=28,
                tone="grass",
            ),
            icon_action(
                "circle",
                "Complete task " + number,
                TaskState.complete_task(task.task_id),  # type: ignore[misc]
                icon_size=18,
                box=28,
            ),
        ),
        rx.el.div(
            rx.el.div(task.title, class_name="tp-task-title"),
            rx.el.div(
                rx.el.span(number, class_name="tp-task-number", title="Task number"),
                _priority_badge(task),
                _due_badge(task),
                _repeat_badge(task),
                rx.foreach(task.tags, lambda tag: rx.el.span("#", tag, class_name="tp-tag")),
                class_name="tp-task-meta",
            ),
            class_name="tp-task-body",
        ),
        icon_action(
            "trash-2",
            "Delete task " + number,
            TaskState.delete_task(task.task_id),  # type: ignore[misc]
            icon_size=15,
            box=28,
            class_name="tp-task-delete",
        ),
        class_name="tp-task-item",
        id="task-" + number,  # as `task_element_id` names it
        custom_attrs={
            "data-testid": "task-item",
            "data-task-id": number,
            "data-completed": rx.cond(task.completed, "true", "false"),
            # A reply's mention of this task was just clicked (ChatKit's annotations).
            "data-highlighted": rx.cond(TaskState.highlighted == task.task_id, "true", "false"),
        },
    )
