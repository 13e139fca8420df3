"""The task panel's status filter: All / Pending / Completed, with counts."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.tasks import TaskState


def task_filter() -> rx.Component:
    """A segmented control (a radio group for assistive technology) named "Filter tasks"."""
    return rx.segmented_control.root(
        rx.segmented_control.item("All", value="all"),
        rx.segmented_control.item("Pending", value="pending"),
        rx.segmented_control.item("Completed", value="completed"),
        value=TaskState.status_filter,
        on_change=TaskState.set_status_filter,
        aria_label="Filter tasks",
        size="1",
        width="100%",
    )
