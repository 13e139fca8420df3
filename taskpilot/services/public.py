"""The public shape of each entity: what the API, the MCP tools and the pages are given.

One Pydantic model per entity, built from its row by `of(row)`. The API returns these models
(they are its OpenAPI schemas), the MCP tools return a task's shape as their result, the
pages build their view models from them, and a turn's tool calls are `ToolCall`s from the
model's stream to the database and back (`ToolCall` lives beside the column it describes,
in `data/models.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from taskpilot.data.models import Conversation, Message, Task, ToolCall, as_utc
from taskpilot.services.turns import seen_calls, seen_status


def _iso(value: datetime | None) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment else None


class TaskOut(BaseModel):
    """A task, numbered per person (`task_id` is the number people and tools use)."""

    task_id: int
    title: str
    description: str
    completed: bool
    priority: Literal["low", "medium", "high"]
    due_date: str | None
    tags: list[str]
    repeat: str | None = Field(
        default=None,
        description="How the task repeats: an RFC 5545 RRULE value (FREQ=WEEKLY;BYDAY=MO), its"
        " due date being the next occurrence; completing it moves it to the one after.",
    )
    created_at: str | None
    updated_at: str | None
    completed_at: str | None

    @classmethod
    def of(cls, task: Task) -> TaskOut:
        return cls.model_construct(**task_fields(task))


class TaskResult(TaskOut):
    """What a task tool answers: the task and what became of it."""

    status: Literal["created", "updated", "completed", "pending", "deleted"]
    before: dict[str, Any] | None = Field(
        default=None,
        description="update_task and complete_task: the fields the change altered, as they"
        " were (what `undo_change` puts back).",
    )
    undid: Literal["created", "updated", "completed", "pending", "deleted"] | None = Field(
        default=None, description="undo_change: the status of the change it undid."
    )
    seal: str | None = Field(
        default=None,
        description="add_task, update_task, complete_task, delete_task: what tells"
        " `undo_change` the result is one TaskPilot returned to this person, unaltered.",
    )

    @classmethod
    def of_change(cls, task: Task, status: str, **extra: Any) -> dict[str, Any]:
        """The tool's JSON result; `extra`: `before` or `undid` (a change's `seal` is added
        by the MCP server, `services/undo.py`)."""
        return {"task_id": task.number, "status": status, **task_fields(task), **extra}


def task_fields(task: Task) -> dict[str, Any]:
    """A task's fields as its public shape holds them (JSON values)."""
    # Built by hand rather than validated: the row is already valid, and the MCP tools
    # build one of these on every call (issue 12 measured validation on the turn's path).
    return {
        "task_id": task.number,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "priority": task.priority,
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "tags": list(task.tags or []),
        "repeat": task.repeat,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "completed_at": _iso(task.completed_at),
    }


class ConversationOut(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        return cls(
            id=conversation.id,
            title=conversation.title,
            created_at=_iso(conversation.created_at) or "",
            updated_at=_iso(conversation.updated_at) or "",
        )


class MessageOut(BaseModel):
    id: int
    conversation_id: str
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCall]
    status: str
    error: str | None
    feedback: Literal["positive", "negative"] | None = Field(
        default=None, description="The rating given to an assistant reply (ChatKit)."
    )
    client_message_id: str | None
    created_at: str
    version: int = Field(
        default=1, description="Which version of an edited question this is (from 1)."
    )
    versions: int = Field(default=1, description="How many versions the question has.")
    version_ids: list[int] = Field(
        default_factory=list,
        description="An edited question's versions' ids, oldest first (GET"
        " …/messages/{id}/versions shows each with its branch); empty when never edited.",
    )

    @classmethod
    def of(cls, message: Message, version_ids: list[int] | None = None) -> MessageOut:
        """`version_ids`: every version of the question, when it was edited."""
        status, error = seen_status(message)
        ids = version_ids or []
        return cls(
            id=message.id or 0,
            conversation_id=message.conversation_id,
            role=message.role,  # type: ignore[arg-type]
            content=message.content,
            tool_calls=seen_calls(message),
            status=status,
            error=error,
            feedback=message.feedback,  # type: ignore[arg-type]
            client_message_id=message.client_message_id,
            created_at=_iso(message.created_at) or "",
            version=ids.index(message.id) + 1 if message.id in ids else 1,
            versions=max(len(ids), 1),
            version_ids=ids,
        )
