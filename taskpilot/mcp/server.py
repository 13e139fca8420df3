"""The TaskPilot MCP server: the one gate through which the agent changes tasks.

No tool takes a user id. Over HTTP the caller's bearer token (verified by
`TaskPilotTokenVerifier`, the SDK's token-verifier hook) names the user; over stdio the
token given at start-up does; in-process (the turn engine's own client) the turn's verified
user is bound when its session starts (`acting_for`). Every tool then acts through
`TaskService` for that user.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.types import ASGIApp

from taskpilot.core.clock import today
from taskpilot.core.config import Settings
from taskpilot.core.db import Database, DatabaseUnavailable
from taskpilot.core.errors import DATABASE_DOWN
from taskpilot.core.live import TASKS_CHANGED, LiveFeed
from taskpilot.core.security import (
    API_AUDIENCE,
    MCP_AUDIENCE,
    InvalidToken,
    verify_taskpilot_token,
)
from taskpilot.data.models import Priority
from taskpilot.mcp.tools import ToolName
from taskpilot.services.dates import DateParseError, parse_due
from taskpilot.services.public import TaskResult, task_fields
from taskpilot.services.sign_out import ended
from taskpilot.services.tasks import (
    SortOrder,
    StatusFilter,
    TaskError,
    TaskQuery,
    TaskService,
)
from taskpilot.services.undo import ChangeSeal, TaskUndo, changed_fields

SERVER_NAME = "taskpilot"
INSTRUCTIONS = (
    "Manage the signed-in person's to-do list. Tasks are numbered per person (task_id). "
    "Use list_tasks with `search` to find a task named in words before changing it."
)

# Over stdio and in-process there is no HTTP request to carry a token: the session is bound to
# one user (a context variable, so the server's tasks for that session inherit it).
_bound_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("bound_user", default=None)


class TaskPilotTokenVerifier(TokenVerifier):
    """Accepts TaskPilot's per-turn MCP tokens and its login tokens; the subject is the user."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            identity = verify_taskpilot_token(self.settings, token, (MCP_AUDIENCE, API_AUDIENCE))
        except InvalidToken:
            return None
        if identity.audience == API_AUDIENCE:  # a login token: ended by signing out
            async with self.db.session() as session:
                if await ended(session, identity):
                    return None
        return AccessToken(
            token=token,
            client_id="taskpilot",
            scopes=["tasks"],
            subject=identity.user_id,
            expires_at=identity.expires_at,
        )


def bind_stdio_user(user_id: str) -> None:
    """Bind this process's stdio MCP session to one user (see `python -m taskpilot.mcp`)."""
    _bound_user.set(user_id)


@contextmanager
def acting_for(user_id: str) -> Iterator[None]:
    """Bind the in-process MCP sessions opened inside this block to `user_id`, a user the
    caller has verified: the server tasks a session starts here inherit it."""
    token = _bound_user.set(user_id)
    try:
        yield
    finally:
        _bound_user.reset(token)


def current_user_id() -> str:
    """The user the current tool call acts for; a tool error when nobody is signed in."""
    token = get_access_token()
    if token is not None and token.subject:
        return token.subject
    user_id = _bound_user.get()
    if user_id:
        return user_id
    raise ToolError("Not signed in: TaskPilot's tools need a valid token.")


def _due(value: str | None, settings: Settings) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_due(value, today(settings))
    except DateParseError as exc:
        raise ToolError(str(exc)) from exc


PriorityArg = Literal["low", "medium", "high"]
RepeatArg = Annotated[
    str | None,
    Field(
        max_length=200,
        description="How the task repeats: an RFC 5545 RRULE (FREQ=WEEKLY;BYDAY=MO) or words"
        " ('every monday', 'every weekday', 'every other week', 'monthly on the 15th').",
    ),
]


def build_mcp_server(settings: Settings, db: Database, live: LiveFeed | None = None) -> MCPServer:
    """The MCP server with TaskPilot's task tools, bound to this database. After each change
    a tool makes, `live` tells the person's open pages that their tasks changed."""
    server = MCPServer(
        SERVER_NAME,
        title="TaskPilot",
        instructions=INSTRUCTIONS,
        version="1.0",
        token_verifier=TaskPilotTokenVerifier(settings, db),
        auth=AuthSettings(
            issuer_url="http://taskpilot.local",  # not used: tokens are verified locally
            resource_server_url=None,
        ),
        log_level="WARNING",
    )
    # Each change's result is sealed for its person: `undo_change` takes back only those.
    seals = ChangeSeal(settings.signing_secret)

    def change_result(tasks: TaskService, task: Any, status: str, **extra: Any) -> dict[str, Any]:
        return seals.sealed(TaskResult.of_change(task, status, **extra), tasks.user_id)

    async def run(operation: Any, changes: bool = True) -> dict[str, Any]:
        user_id = current_user_id()
        try:
            async with db.session() as session:
                tasks = TaskService(session, user_id, today(settings))
                result: dict[str, Any] = await operation(tasks)
        except TaskError as exc:
            raise ToolError(str(exc)) from exc
        except DatabaseUnavailable as exc:
            raise ToolError(DATABASE_DOWN) from exc
        if changes and live is not None:
            live.publish(user_id, TASKS_CHANGED)
        return result

    @server.tool(name=ToolName.ADD_TASK)
    async def add_task(
        title: Annotated[str, Field(description="What needs doing, in a few words.")],
        description: Annotated[str, Field(description="Optional details.")] = "",
        priority: Annotated[PriorityArg, Field(description="low, medium or high.")] = "medium",
        due_date: Annotated[
            str | None,
            Field(description="YYYY-MM-DD, or today/tomorrow/a weekday/'next week'."),
        ] = None,
        tags: Annotated[list[str] | None, Field(description="Short labels, e.g. ['work'].")] = None,
        repeat: RepeatArg = None,
    ) -> dict[str, Any]:
        """Add a task to the person's list. Returns the new task with its task_id. A repeating
        task is due on its rule's first date (from due_date, else today)."""
        due = _due(due_date, settings)

        async def op(tasks: TaskService) -> dict[str, Any]:
            task = await tasks.add(title, description, priority, due, tags, repeat)
            return change_result(tasks, task, "created")

        return await run(op)

    @server.tool(name=ToolName.LIST_TASKS, annotations=ToolAnnotations(readOnlyHint=True))
    async def list_tasks(
        status: Annotated[
            Literal["all", "pending", "completed"], Field(description="Which tasks to include.")
        ] = "all",
        priority: Annotated[PriorityArg | None, Field(description="Only this priority.")] = None,
        tag: Annotated[str | None, Field(description="Only tasks with this tag.")] = None,
        search: Annotated[
            str | None, Field(description="Words to find in the title or description.")
        ] = None,
        due_before: Annotated[str | None, Field(description="Due on or before this date.")] = None,
        due_after: Annotated[str | None, Field(description="Due on or after this date.")] = None,
        sort: Annotated[
            Literal["created", "due", "priority", "title"], Field(description="Order.")
        ] = "created",
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many.")] = 50,
    ) -> dict[str, Any]:
        """List the person's tasks, optionally filtered. Each has task_id, title, status."""
        query = TaskQuery(
            status=StatusFilter(status),
            priority=Priority(priority) if priority else None,
            tag=tag,
            text=search,
            due_before=_due(due_before, settings),
            due_after=_due(due_after, settings),
            sort=SortOrder(sort),
            limit=limit,
        )

        async def op(tasks: TaskService) -> dict[str, Any]:
            found = await tasks.find(query)
            return {
                "status": "ok",
                "filter": status,
                "count": len(found),
                "tasks": [
                    TaskResult.of_change(task, "completed" if task.completed else "pending")
                    for task in found
                ],
            }

        return await run(op, changes=False)

    @server.tool(name=ToolName.COMPLETE_TASK)
    async def complete_task(
        task_id: Annotated[int, Field(description="The task's number.")],
        completed: Annotated[bool, Field(description="False re-opens a done task.")] = True,
        due_date: Annotated[
            str | None,
            Field(
                description="For a repeating task, optional: the due date (YYYY-MM-DD) being"
                " completed; a task already moved past it is not moved again."
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Mark a task as done (or, with completed=false, as not done). A repeating task stays
        open, moved to its next due date."""
        occurrence = _due(due_date, settings)

        async def op(tasks: TaskService) -> dict[str, Any]:
            before = task_fields(await tasks.get(task_id))
            task = await tasks.complete(task_id, completed, occurrence)
            after = task_fields(task)
            return change_result(
                tasks,
                task,
                "completed" if completed else "pending",
                before=changed_fields(before, after),
            )

        return await run(op)

    @server.tool(name=ToolName.DELETE_TASK, annotations=ToolAnnotations(destructiveHint=True))
    async def delete_task(
        task_id: Annotated[int, Field(description="The task's number.")],
    ) -> dict[str, Any]:
        """Delete a task for good."""

        async def op(tasks: TaskService) -> dict[str, Any]:
            task = await tasks.delete(task_id)
            return change_result(tasks, task, "deleted")

        return await run(op)

    @server.tool(name=ToolName.UPDATE_TASK)
    async def update_task(
        task_id: Annotated[int, Field(description="The task's number.")],
        title: Annotated[str | None, Field(description="New title.")] = None,
        description: Annotated[str | None, Field(description="New description.")] = None,
        priority: Annotated[PriorityArg | None, Field(description="New priority.")] = None,
        due_date: Annotated[
            str | None, Field(description="New due date; 'none' removes it.")
        ] = None,
        tags: Annotated[list[str] | None, Field(description="Replaces the tags.")] = None,
        repeat: Annotated[
            str | None,
            Field(
                max_length=200,
                description="A new repeat (an RRULE or words, as for add_task); 'none' stops"
                " the task repeating.",
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Change a task's title, description, priority, due date, tags or repeat."""
        clear_due = due_date is not None and due_date.strip().lower() in ("none", "no", "clear")
        due = None if clear_due else _due(due_date, settings)

        async def op(tasks: TaskService) -> dict[str, Any]:
            before = task_fields(await tasks.get(task_id))
            task = await tasks.update(
                task_id,
                title=title,
                description=description,
                priority=priority,
                due_date=due,
                clear_due_date=clear_due,
                tags=tags,
                repeat=repeat,
            )
            return change_result(
                tasks, task, "updated", before=changed_fields(before, task_fields(task))
            )

        return await run(op)

    @server.tool(name=ToolName.UNDO_CHANGE)
    async def undo_change(
        change: Annotated[
            dict[str, Any],
            Field(
                description="The result add_task, update_task, complete_task or delete_task"
                " returned for the change to undo, as it was returned (with its seal)."
            ),
        ],
    ) -> dict[str, Any]:
        """Undo one change to a task: an added task is deleted, a deleted one comes back with
        its number, an update or completion is put back as it was. Refused when the task has
        changed since (or a deleted task's number is taken)."""

        async def op(tasks: TaskService) -> dict[str, Any]:
            task, status = await TaskUndo(tasks, seals).reverse(change)
            return TaskResult.of_change(task, status, undid=change.get("status"))

        return await run(op)

    return server


def build_mcp_app(server: MCPServer, settings: Settings) -> ASGIApp:
    """The streamable-HTTP ASGI app, stateless so any worker can serve any request."""
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[*settings.allowed_hosts, "taskpilot.internal"],
            allowed_origins=settings.allowed_origins,
        ),
    )
