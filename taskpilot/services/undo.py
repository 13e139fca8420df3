"""Undoing one task change: what a task tool said it did (its result) is enough to reverse it.

A task tool's result is the task after the change; `update_task` and `complete_task` add
`before`, the changed fields as they were (`changed_fields`), and `delete_task`'s is the whole
task that went. `TaskUndo.reverse` takes such a result back, for the caller only:

- an add: the task is deleted, if it has not changed since (its `updated_at`);
- a delete: the task comes back with its number, fields and creation time, if that number is
  still free (a number the person never had is refused: the counter hands those out);
- an update, a completion, a reopening: the `before` fields come back, if the task still has
  the values the change set (a repeating task's completion moved its due date: the date
  moves back).

Every write is conditional on the row being as it was read (its `updated_at`), so a change
made meanwhile makes the undo refuse instead of overwriting it.

A result is taken back only when it is one TaskPilot's tools returned to this person: each
change's result carries a `seal` (`ChangeSeal`, an HMAC of the change and the person under a
key derived from the server's secret). Without it, anything shaped like a result would do: a
`list_tasks` item relabelled `"status": "created"` made `undo_change` delete that task, a
delete that never waited for the person's approval (`mcp/tools.py`'s DESTRUCTIVE).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError

from taskpilot.data.models import Task, User, as_utc, utcnow
from taskpilot.services.public import task_fields
from taskpilot.services.repeats import RepeatError, read_rrule
from taskpilot.services.tasks import (
    MAX_NUMBER,
    TaskError,
    TaskNotFound,
    TaskService,
    clean_description,
    clean_priority,
    clean_tags,
    clean_title,
)

# The fields a change can be undone on, as a tool result names them.
REVERSIBLE = (
    "title",
    "description",
    "priority",
    "due_date",
    "tags",
    "repeat",
    "completed",
    "completed_at",
)
# When a change was made follows from what it made: not compared to say "changed since".
_DERIVED = frozenset({"completed_at"})
# What an undo did, by the status of the change it undid.
UNDID = {
    "created": "deleted",
    "deleted": "created",
    "updated": "updated",
    "completed": "pending",
    "pending": "completed",
}
NOT_A_CHANGE = (
    "That is not a change TaskPilot made: give the result of add_task, update_task,"
    " complete_task or delete_task as it was returned."
)
_tasks: sa.Table = Task.__table__  # type: ignore[attr-defined]
_users: sa.Table = User.__table__  # type: ignore[attr-defined]


class UndoRefused(TaskError):
    """The change cannot be undone (the task changed since, its number is taken)."""


class Change(BaseModel):
    """A task tool's result, as `undo_change` is given it: which task, what became of it,
    the task's values after (all of them, for a delete), `before` (an update, a
    completion) and the `seal` its tool gave it. Other keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    task_id: int = Field(ge=1, le=MAX_NUMBER)
    status: Literal["created", "updated", "completed", "pending", "deleted"]
    title: str = ""
    description: str = ""
    completed: bool = False
    priority: str = "medium"
    due_date: date | None = None
    tags: list[str] = Field(default_factory=list)
    repeat: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    before: dict[str, Any] | None = None
    seal: str = ""

    @classmethod
    def read(cls, result: Mapping[str, Any]) -> Change:
        """The change a tool result describes; `TaskError` when it does not describe one."""
        try:
            return cls.model_validate(result)
        except ValidationError as exc:
            raise TaskError(NOT_A_CHANGE) from exc

    def signed_text(self, user_id: str) -> bytes:
        """What a seal signs: the change as read (so a key left out for its default, or a
        date written another way, reads the same) and whose it is."""
        fields = self.model_dump(mode="json", exclude={"seal"})
        return json.dumps([user_id, fields], sort_keys=True, separators=(",", ":")).encode()


class ChangeSeal:
    """Seals the results of task changes for one person, and checks a result's seal."""

    def __init__(self, secret: str) -> None:
        # A key of its own, derived from the server's secret (which also signs tokens).
        self._key = hashlib.sha256(b"taskpilot undo seal\n" + secret.encode()).digest()

    def _of(self, change: Change, user_id: str) -> str:
        digest = hmac.new(self._key, change.signed_text(user_id), hashlib.sha256)
        return digest.hexdigest()[:32]  # 128 bits

    def sealed(self, result: dict[str, Any], user_id: str) -> dict[str, Any]:
        """A change's tool result with its seal."""
        return {**result, "seal": self._of(Change.read(result), user_id)}

    def check(self, change: Change, user_id: str) -> None:
        """`TaskError` unless `change` is a result a tool sealed for `user_id`, unaltered."""
        # Bytes, not text: `compare_digest` refuses text that is not ASCII (a forged seal may
        # be anything); case and spaces a model may have changed do not count.
        given = change.seal.strip().lower().encode()
        if not hmac.compare_digest(given, self._of(change, user_id).encode()):
            raise TaskError(NOT_A_CHANGE)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The fields (as tool results hold them) whose value a change altered, as they were."""
    return {name: before.get(name) for name in REVERSIBLE if before.get(name) != after.get(name)}


def _changed_since(number: int) -> UndoRefused:
    return UndoRefused(f"Task {number} changed since, so I left it as it is.")


class TaskUndo:
    """Reverses task changes for the user `tasks` acts for, given results `seals` sealed."""

    def __init__(self, tasks: TaskService, seals: ChangeSeal) -> None:
        self.tasks = tasks
        self.session = tasks.session
        self.seals = seals

    async def reverse(self, result: Mapping[str, Any]) -> tuple[Task, str]:
        """Undo the change `result` describes: the task as it is now, and what became of it
        (`UNDID`). `UndoRefused` (a `TaskError`) when it cannot be undone; a `TaskError`
        when `result` is not a change a tool sealed for this person."""
        change = Change.read(result)
        self.seals.check(change, self.tasks.user_id)
        if change.status == "created":
            return await self._unadd(change), "deleted"
        if change.status == "deleted":
            return await self._undelete(change), "created"
        return await self._put_back(change, result), UNDID[change.status]

    async def _unadd(self, change: Change) -> Task:
        task = await self._still_there(change.task_id)
        if as_utc(task.updated_at) != as_utc(change.updated_at):
            raise _changed_since(change.task_id)
        deleted = await self.session.execute(
            sa.delete(_tasks).where(_tasks.c.id == task.id, _tasks.c.updated_at == task.updated_at)
        )
        await self.session.commit()
        if deleted.rowcount != 1:  # type: ignore[attr-defined]
            raise _changed_since(change.task_id)
        return task

    async def _undelete(self, change: Change) -> Task:
        number = change.task_id
        issued = await self.session.scalar(
            sa.select(_users.c.task_seq).where(_users.c.id == self.tasks.user_id)
        )
        if issued is None or number > issued:
            raise UndoRefused(f"You never had a task {number}, so there is nothing to bring back.")
        if change.repeat is not None and change.due_date is None:
            raise TaskError("A repeating task needs a due date.")
        now = utcnow()
        values: dict[str, Any] = {
            "user_id": self.tasks.user_id,
            "number": number,
            "title": clean_title(change.title),
            "description": clean_description(change.description),
            "priority": clean_priority(change.priority).value,
            "due_date": change.due_date,
            "tags": clean_tags(change.tags),
            "repeat": _rule(change.repeat),
            "completed": change.completed,
            "completed_at": change.completed_at if change.completed else None,
            "created_at": change.created_at or now,
            "updated_at": now,
        }
        try:
            task_id = (
                await self.session.execute(sa.insert(_tasks).returning(_tasks.c.id), values)
            ).scalar_one()
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            raise await self._number_taken(change) from None
        return Task(id=task_id, **values)

    async def _number_taken(self, change: Change) -> UndoRefused:
        taken = await self.tasks.get(change.task_id)
        if change.created_at is not None and as_utc(taken.created_at) == as_utc(change.created_at):
            return UndoRefused(f"Task {change.task_id} is back already.")
        return UndoRefused(
            f"Task {change.task_id} can't come back as task {change.task_id}: another task has"
            " that number now."
        )

    async def _put_back(self, change: Change, result: Mapping[str, Any]) -> Task:
        number = change.task_id
        before = change.before or {}
        if not before:
            raise UndoRefused(f"That didn't change task {number}, so there is nothing to undo.")
        unknown = set(before) - set(REVERSIBLE)
        if unknown:
            raise TaskError(f"These can't be put back: {', '.join(sorted(unknown))}.")
        task = await self._still_there(number)
        now = task_fields(task)
        if any(now[name] != result.get(name) for name in set(before) - _DERIVED):
            raise _changed_since(number)
        values = _cleaned(before)
        if values.get("repeat", task.repeat) and values.get("due_date", task.due_date) is None:
            raise TaskError("A repeating task needs a due date.")
        values["updated_at"] = utcnow()
        updated = await self.session.execute(
            sa.update(_tasks)
            .where(_tasks.c.id == task.id, _tasks.c.updated_at == task.updated_at)
            .values(**values)
        )
        await self.session.commit()
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            raise _changed_since(number)
        await self.session.refresh(task)
        return task

    async def _still_there(self, number: int) -> Task:
        try:
            return await self.tasks.get(number)
        except TaskNotFound:
            raise UndoRefused(
                f"Task {number} isn't in your list any more, so that can't be undone."
            ) from None


def _rule(value: Any) -> str | None:
    """A stored rule, checked (a result holds the RRULE as stored)."""
    if value is None:
        return None
    try:
        return read_rrule(str(value)).rrule()
    except RepeatError as exc:
        raise TaskError(str(exc)) from exc


def _cleaned(before: Mapping[str, Any]) -> dict[str, Any]:
    """`before`'s values as columns, each checked as a new value would be."""
    readers: dict[str, Any] = {
        "title": clean_title,
        "description": clean_description,
        "priority": lambda value: clean_priority(value).value,
        "due_date": lambda value: None if value is None else date.fromisoformat(str(value)),
        "tags": clean_tags,
        "repeat": _rule,
        "completed": lambda value: value if isinstance(value, bool) else _bad("completed"),
        "completed_at": lambda value: None if value is None else datetime.fromisoformat(str(value)),
    }
    try:
        return {name: readers[name](value) for name, value in before.items()}
    except ValueError as exc:
        if isinstance(exc, TaskError):
            raise
        raise TaskError("The values to put back are not valid.") from exc


def _bad(name: str) -> Any:
    raise TaskError(f"The {name} to put back is not valid.")
