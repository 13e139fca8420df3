"""TaskState: the task panel. It reads through TaskService and changes tasks only through the
MCP tools, so the MCP server stays the one gate for task changes (as it is for the agent)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import reflex as rx

from taskpilot.agent.mcp_client import ToolRefused
from taskpilot.core.clock import in_zone, today
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.data.models import Task
from taskpilot.mcp.tools import ToolName
from taskpilot.runtime import get_runtime
from taskpilot.services.public import TaskOut
from taskpilot.services.tasks import MAX_LIST, SortOrder, TaskQuery, TaskService
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.view_models import TaskView, task_view

logger = logging.getLogger("taskpilot.web")

FILTERS = ("all", "pending", "completed")
# How long a task stays marked after a reply's mention of it was clicked.
HIGHLIGHT_SECONDS = 4.0
TOOL_FAILED = "That didn't work; please try again."


def task_element_id(number: int) -> str:
    """The id of a task's row in the panel (`task_item.py`)."""
    return f"task-{number}"


class TaskState(AuthState):
    """The person's tasks (pending first) and the panel's filter."""

    tasks: rx.Field[list[TaskView]] = rx.field(default_factory=list)
    status_filter: rx.Field[str] = rx.field("all")
    task_error: rx.Field[str] = rx.field("")
    loaded: rx.Field[bool] = rx.field(False)
    # The task a click on a reply's mention points at (0: none), and which click it was.
    highlighted: rx.Field[int] = rx.field(0)
    highlight_click: rx.Field[int] = rx.field(0)
    # Reads of the list begun outside the state lock, and lists shown: a read made outside it
    # is shown only if nothing was read or shown since it began (two quick clicks: the first
    # one's list, older, must not be shown last).
    _reads: int = 0

    @rx.var
    def visible_tasks(self) -> list[TaskView]:
        """The tasks the filter lets through."""
        if self.status_filter == "pending":
            return [task for task in self.tasks if not task.completed]
        if self.status_filter == "completed":
            return [task for task in self.tasks if task.completed]
        return self.tasks

    @rx.var
    def pending_count(self) -> int:
        """How many tasks are still open."""
        return sum(1 for task in self.tasks if not task.completed)

    def _show(self, rows: list[Task]) -> None:
        """Show these tasks: open ones first (by due date), then done ones."""
        with in_zone(self._zone or None):  # "overdue" and "today" in the person's day
            day = today(get_runtime().settings)
        views = [task_view(TaskOut.of(row), day) for row in rows]
        self.tasks = sorted(views, key=lambda task: task.completed)
        self.task_error = ""
        self.loaded = True
        self._reads += 1  # read under the lock: newer than any read still outside it

    @staticmethod
    def _query() -> TaskQuery:
        # Everything (up to the service's cap), so the filter's counts need no second query.
        return TaskQuery(sort=SortOrder.DUE, limit=MAX_LIST)

    @rx.event
    async def load_tasks(self) -> Any:
        """Reload the task list from the database."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        await self._reload(identity.user_id)
        return None

    async def _reload(self, user_id: str) -> None:
        """Read and show the tasks, under the state lock (regular handlers, the watcher)."""
        self._show_read(await self._read(user_id))

    @classmethod
    async def _read(cls, user_id: str) -> list[Task] | None:
        """The person's tasks as the panel shows them; None when the database is down."""
        try:
            async with get_runtime().db.session() as session:
                return await TaskService(session, user_id).find(cls._query())
        except DatabaseUnavailable:
            return None

    def _show_read(self, rows: list[Task] | None) -> None:
        if rows is None:
            self.task_error = DATABASE_DOWN
        else:
            self._show(rows)

    @rx.event
    def set_status_filter(self, value: str | list[str]) -> None:
        """Show all, pending or completed tasks."""
        choice = value[0] if isinstance(value, list) and value else value
        if choice in FILTERS:
            self.status_filter = str(choice)

    @rx.event
    def highlight(self, task_id: int) -> Any:
        """Mark a task (a reply's mention of it was clicked) and scroll to it; the mark goes
        after HIGHLIGHT_SECONDS, or moves with the next click. A number that is not one of
        the person's tasks marks nothing."""
        number = task_id if isinstance(task_id, int) and not isinstance(task_id, bool) else 0
        task = next((task for task in self.tasks if task.task_id == number), None)
        self.highlight_click += 1
        self.highlighted = number if task is not None else 0
        if task is None:
            return None
        if task not in self.visible_tasks:
            self.status_filter = "all"  # the filter would hide it
        return [
            rx.scroll_to(task_element_id(number)),
            TaskState.end_highlight(self.highlight_click),  # type: ignore[misc]
        ]

    @rx.event(background=True)
    async def end_highlight(self, click: int) -> None:
        """Unmark the task after a while, unless a later click moved the mark."""
        await asyncio.sleep(HIGHLIGHT_SECONDS)
        async with self:
            if self.highlight_click == click:
                self.highlighted = 0

    @rx.event(background=True)
    async def complete_task(self, task_id: int) -> Any:
        """Mark a task done, through the MCP `complete_task` tool. A repeating task is
        completed for the date this tab shows: if another tab has moved it on already, it
        is not moved again."""
        arguments: dict[str, Any] = {"task_id": task_id}
        async with self:
            shown = next((task for task in self.tasks if task.task_id == task_id), None)
        if shown is not None and shown.repeat_label and shown.due_date:
            arguments["due_date"] = shown.due_date
        return await self._change(ToolName.COMPLETE_TASK, arguments)

    @rx.event(background=True)
    async def reopen_task(self, task_id: int) -> Any:
        """Mark a done task as not done, through the MCP `complete_task` tool."""
        return await self._change(ToolName.COMPLETE_TASK, {"task_id": task_id, "completed": False})

    @rx.event(background=True)
    async def delete_task(self, task_id: int) -> Any:
        """Delete a task, through the MCP `delete_task` tool."""
        return await self._change(ToolName.DELETE_TASK, {"task_id": task_id})

    async def _change(self, tool: str, arguments: dict[str, Any]) -> Any:
        """A panel button's change and the reload after it, for a background handler: both
        outside the page's state lock, which the tab's streaming reply takes for every
        delta (the write may wait on a busy database). Shown if the tab is still signed in
        as the person who clicked, and the list only if no newer read began meanwhile."""
        token, identity = await self._token_and_identity()
        if identity is None:
            return await self._sign_out_if_still(token)
        error, read, rows = "", 0, None
        try:
            await get_runtime().turns.mcp.change(identity.user_id, tool, arguments)
        except ToolRefused as exc:
            error = exc.message
        except Exception:
            logger.warning("task panel tool call failed", extra={"tool": tool}, exc_info=True)
            error = TOOL_FAILED
        else:
            async with self:
                self._reads += 1
                read = self._reads
            rows = await self._read(identity.user_id)
        async with self:
            if self.token != token:
                return None
            if error:
                self.task_error = error
            elif read == self._reads:
                self._show_read(rows)
        return None
