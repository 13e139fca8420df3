"""TaskService: the only code that reads or writes tasks. Every query is scoped by user.

The MCP tools, the HTTP task listing and the UI's task panel all come through here, so
validation and the per-user boundary live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import Priority, Task, User, utcnow
from taskpilot.services.text import LINE_BREAKS, unstorable

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_TAGS = 10
MAX_TAG_LENGTH = 30
MAX_LIST = 200
MAX_NUMBER = 2**31 - 1  # task numbers are 32-bit integers in the database
_TAG_RE = re.compile(r"[^a-z0-9_-]+")


class TaskError(ValueError):
    """A task operation that cannot be done; the message is written for the person."""


class TaskNotFound(TaskError):
    """No task with that number belongs to the caller (it may not exist at all)."""

    def __init__(self, number: int) -> None:
        super().__init__(f"Task {number} was not found in your list.")
        self.number = number


class StatusFilter(StrEnum):
    """Which tasks a listing includes."""

    ALL = "all"
    PENDING = "pending"
    COMPLETED = "completed"


class SortOrder(StrEnum):
    """How a listing is ordered."""

    CREATED = "created"
    DUE = "due"
    PRIORITY = "priority"
    TITLE = "title"


@dataclass(frozen=True)
class TaskQuery:
    """Filters for `TaskService.list`; every field is optional."""

    status: StatusFilter = StatusFilter.ALL
    priority: Priority | None = None
    tag: str | None = None
    text: str | None = None
    due_before: date | None = None
    due_after: date | None = None
    sort: SortOrder = SortOrder.CREATED
    # None: every matching task (an export); a listing is capped at MAX_LIST.
    limit: int | None = 100


def clean_title(title: str) -> str:
    """A title with surrounding space removed; empty or over-long titles are refused."""
    value = " ".join(str(title).split())
    if not value:
        raise TaskError("A task needs a title.")
    if len(value) > MAX_TITLE:
        raise TaskError(f"A task title can be at most {MAX_TITLE} characters.")
    if (char := unstorable(value)) is not None:
        raise TaskError(f"A task title can't contain {char}.")
    return value


def clean_description(description: str | None) -> str:
    """A description, trimmed and bounded."""
    value = (description or "").strip()
    if len(value) > MAX_DESCRIPTION:
        raise TaskError(f"A task description can be at most {MAX_DESCRIPTION} characters.")
    if (char := unstorable(value, LINE_BREAKS)) is not None:
        raise TaskError(f"A task description can't contain {char}.")
    return value


def clean_priority(priority: str | Priority | None) -> Priority:
    """A priority from low/medium/high (case-insensitive)."""
    if priority is None or priority == "":
        return Priority.MEDIUM
    try:
        return Priority(str(priority).strip().lower())
    except ValueError as exc:
        raise TaskError("Priority must be low, medium or high.") from exc


def clean_tags(tags: list[str] | str | None) -> list[str]:
    """Tags in lower case, without '#', deduplicated, in the order given."""
    if tags is None:
        return []
    raw = tags.split(",") if isinstance(tags, str) else list(tags)
    result: list[str] = []
    for tag in raw:
        value = _TAG_RE.sub("-", str(tag).strip().lstrip("#").lower()).strip("-")
        if not value:
            continue
        if len(value) > MAX_TAG_LENGTH:
            raise TaskError(f"A tag can be at most {MAX_TAG_LENGTH} characters.")
        if value not in result:
            result.append(value)
    if len(result) > MAX_TAGS:
        raise TaskError(f"A task can have at most {MAX_TAGS} tags.")
    return result


_PRIORITY_RANK = sa.case(
    (col(Task.priority) == Priority.HIGH.value, 0),
    (col(Task.priority) == Priority.MEDIUM.value, 1),
    else_=2,
)


# Adding a task, the agent's most frequent write, as two Core statements built once: the
# person's next task number (one atomic UPDATE ... RETURNING, so concurrent adds never share a
# number), then the row.
_users: sa.Table = User.__table__  # type: ignore[attr-defined]
_tasks: sa.Table = Task.__table__  # type: ignore[attr-defined]
_NEXT_NUMBER = (
    sa.update(_users)
    .where(_users.c.id == sa.bindparam("owner_id"))
    .values(task_seq=_users.c.task_seq + 1)
    .returning(_users.c.task_seq)
)
_INSERT_TASK = sa.insert(_tasks).returning(_tasks.c.id)


class TaskService:
    """Task operations on behalf of one user. Construct one per request."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def _next_number(self) -> int:
        result = await self.session.execute(_NEXT_NUMBER, {"owner_id": self.user_id})
        number = result.scalar_one_or_none()
        if number is None:
            raise TaskError("Your account was not found.")
        return int(number)

    async def add(
        self,
        title: str,
        description: str | None = None,
        priority: str | Priority | None = None,
        due_date: date | None = None,
        tags: list[str] | str | None = None,
    ) -> Task:
        """Create a task and return it."""
        now = utcnow()
        values: dict[str, Any] = {
            "user_id": self.user_id,
            "title": clean_title(title),
            "description": clean_description(description),
            "priority": clean_priority(priority).value,
            "due_date": due_date,
            "tags": clean_tags(tags),
            "completed": False,
            "created_at": now,
            "updated_at": now,
        }
        values["number"] = await self._next_number()
        task_id = (await self.session.execute(_INSERT_TASK, values)).scalar_one()
        await self.session.commit()
        return Task(id=task_id, **values)

    async def get(self, number: int) -> Task:
        """The caller's task with this number, or `TaskNotFound`."""
        if not 1 <= number <= MAX_NUMBER:
            raise TaskNotFound(number)  # no task has it, and the database could not compare it
        statement = select(Task).where(Task.user_id == self.user_id, Task.number == number)
        task = (await self.session.exec(statement)).first()
        if task is None:
            raise TaskNotFound(number)
        return task

    async def numbered(self, numbers: Collection[int]) -> list[Task]:
        """The caller's tasks with these numbers (those that exist), in one query."""
        wanted = sorted(number for number in set(numbers) if 1 <= number <= MAX_NUMBER)
        if not wanted:
            return []
        statement = select(Task).where(Task.user_id == self.user_id, col(Task.number).in_(wanted))
        return list((await self.session.exec(statement)).all())

    async def find(self, query: TaskQuery | None = None) -> list[Task]:
        """The caller's tasks matching `query`."""
        query = query or TaskQuery()
        statement = select(Task).where(Task.user_id == self.user_id)
        if query.status is StatusFilter.PENDING:
            statement = statement.where(col(Task.completed).is_(False))
        elif query.status is StatusFilter.COMPLETED:
            statement = statement.where(col(Task.completed).is_(True))
        if query.priority is not None:
            statement = statement.where(Task.priority == query.priority.value)
        if query.tag:
            tags = clean_tags([query.tag])
            if tags:
                # Tags are normalised to [a-z0-9_-], so the quoted tag in the JSON text is exact
                # (escaped: "_" is a LIKE wildcard, and would match any one-letter tag).
                statement = statement.where(
                    sa.cast(col(Task.tags), sa.Text).contains(f'"{tags[0]}"', autoescape=True)
                )
        if query.text and query.text.strip():
            if unstorable(query.text, LINE_BREAKS) is not None:
                return []  # no stored task has such text (and the database could not look)
            needle = query.text.strip().lower()
            statement = statement.where(
                sa.or_(
                    sa.func.lower(col(Task.title)).contains(needle, autoescape=True),
                    sa.func.lower(col(Task.description)).contains(needle, autoescape=True),
                )
            )
        if query.due_before is not None:
            statement = statement.where(col(Task.due_date) <= query.due_before)
        if query.due_after is not None:
            statement = statement.where(col(Task.due_date) >= query.due_after)
        order: list[Any]
        if query.sort is SortOrder.DUE:
            order = [col(Task.due_date).is_(None), col(Task.due_date), col(Task.number)]
        elif query.sort is SortOrder.PRIORITY:
            order = [_PRIORITY_RANK, col(Task.number)]
        elif query.sort is SortOrder.TITLE:
            order = [sa.func.lower(col(Task.title)), col(Task.number)]
        else:
            order = [col(Task.number)]
        statement = statement.order_by(*order)
        if query.limit is not None:
            statement = statement.limit(max(1, min(query.limit, MAX_LIST)))
        return list((await self.session.exec(statement)).all())

    async def complete(self, number: int, completed: bool = True) -> Task:
        """Mark a task done (or not done again)."""
        task = await self.get(number)
        if task.completed != completed:
            task.completed = completed
            task.completed_at = utcnow() if completed else None
            task.updated_at = utcnow()
            self.session.add(task)
            await self.session.commit()
        return task

    async def delete(self, number: int) -> Task:
        """Delete a task and return what it was."""
        task = await self.get(number)
        await self.session.delete(task)
        await self.session.commit()
        return task

    async def update(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        priority: str | Priority | None = None,
        due_date: date | None = None,
        clear_due_date: bool = False,
        tags: list[str] | str | None = None,
        completed: bool | None = None,
    ) -> Task:
        """Change the given fields of a task; fields left as None stay as they are.

        Every value is checked before any is applied, so a refused update changes nothing.
        """
        task = await self.get(number)
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = clean_title(title)
        if description is not None:
            changes["description"] = clean_description(description)
        if priority is not None:
            changes["priority"] = clean_priority(priority).value
        if clear_due_date:
            changes["due_date"] = None
        elif due_date is not None:
            changes["due_date"] = due_date
        if tags is not None:
            changes["tags"] = clean_tags(tags)
        if completed is not None and completed != task.completed:
            changes["completed"] = completed
            changes["completed_at"] = utcnow() if completed else None
        if not changes:
            raise TaskError(
                "Nothing to change: give a new title, description, priority, due date or tags."
            )
        for name, value in changes.items():
            setattr(task, name, value)
        task.updated_at = utcnow()
        self.session.add(task)
        await self.session.commit()
        return task
