"""TaskService: the only code that reads or writes tasks. Every query is scoped by user.

The MCP tools, the HTTP task listing and the UI's task panel all come through here, so
validation and the per-user boundary live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import Priority, Task, User, utcnow
from taskpilot.services.repeats import Repeat, RepeatError, clean_repeat, read_rrule
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


def parse_repeat(repeat: str) -> Repeat | None:
    """A repeat from an RRULE or words ("every monday"); None for "none" (stop repeating)."""
    try:
        return clean_repeat(repeat)
    except RepeatError as exc:
        raise TaskError(str(exc)) from exc


NEEDS_A_DATE = "A repeating task needs a due date; stop it repeating first (repeat 'none')."


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
    """Task operations on behalf of one user. Construct one per request.

    `today` is the person's today (`core.clock.today`, in their time zone): where a repeating
    task starts and where it goes once done. Left out, it is today in UTC.
    """

    def __init__(self, session: AsyncSession, user_id: str, today: date | None = None) -> None:
        self.session = session
        self.user_id = user_id
        self.today = today or datetime.now(UTC).date()

    def _first_due(self, rule: Repeat, start: date) -> tuple[date, str]:
        """A repeating task's first due date on or after `start`, and its rule as stored."""
        anchored = rule.anchored(start)
        try:
            return anchored.first_on_or_after(start), anchored.rrule()
        except RepeatError as exc:  # pragma: no cover - every rule kept has a next date
            raise TaskError(str(exc)) from exc

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
        repeat: str | None = None,
    ) -> Task:
        """Create a task and return it. A repeating one (`repeat`: an RRULE or words) is due
        on the rule's first date from `due_date` (else today)."""
        now = utcnow()
        rule = parse_repeat(repeat) if repeat is not None else None
        stored_rule = None
        if rule is not None:
            due_date, stored_rule = self._first_due(rule, due_date or self.today)
        values: dict[str, Any] = {
            "user_id": self.user_id,
            "title": clean_title(title),
            "description": clean_description(description),
            "priority": clean_priority(priority).value,
            "due_date": due_date,
            "tags": clean_tags(tags),
            "repeat": stored_rule,
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

    async def complete(
        self, number: int, completed: bool = True, occurrence: date | None = None
    ) -> Task:
        """Mark a task done (or not done again). A repeating task done stays open, due on its
        rule's next date (as Todoist and Things do: one task, its number kept).

        `occurrence`: the due date of the repeating task the caller saw; once the task has
        moved past it (another tab completed it first), it is not moved again.
        """
        task = await self.get(number)
        if completed and task.repeat and task.due_date is not None and not task.completed:
            if occurrence is not None and occurrence != task.due_date:
                return task  # that date is done already
            return await self._advance(task)
        if task.completed != completed:
            task.completed = completed
            task.completed_at = utcnow() if completed else None
            task.updated_at = utcnow()
            self.session.add(task)
            await self.session.commit()
        return task

    async def _advance(self, task: Task) -> Task:
        """Move a repeating task to its next date, once: the UPDATE holds only while the task
        is still due where it was read, so two completions at once (two tabs, two tools)
        move it one step; the later one finds it moved and answers with it as it is."""
        assert task.repeat is not None and task.due_date is not None
        following = read_rrule(task.repeat).next_after(task.due_date, self.today)
        await self.session.execute(
            sa.update(_tasks)
            .where(
                _tasks.c.id == task.id,
                _tasks.c.due_date == task.due_date,
                _tasks.c.repeat == task.repeat,
                _tasks.c.completed.is_(False),
            )
            .values(due_date=following, updated_at=utcnow())
        )
        await self.session.commit()
        await self.session.refresh(task)
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
        repeat: str | None = None,
    ) -> Task:
        """Change the given fields of a task; fields left as None stay as they are.

        `repeat` sets a rule (an RRULE or words), the due date moving to its first date from
        the new or current due date (else today); "none" stops it repeating.
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
        if repeat is not None:
            changes.update(self._repeat_changes(task, parse_repeat(repeat), changes))
        elif task.repeat and "due_date" in changes and changes["due_date"] is None:
            raise TaskError(NEEDS_A_DATE)
        if completed is not None and completed != task.completed:
            changes["completed"] = completed
            changes["completed_at"] = utcnow() if completed else None
        if not changes:
            raise TaskError(
                "Nothing to change: give a new title, description, priority, due date, tags or"
                " repeat."
            )
        for name, value in changes.items():
            setattr(task, name, value)
        task.updated_at = utcnow()
        self.session.add(task)
        await self.session.commit()
        return task

    def _repeat_changes(
        self, task: Task, rule: Repeat | None, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """The columns a new rule (None: stop repeating) changes, beside `changes`."""
        if rule is None:
            if not task.repeat:
                raise TaskError(f"Task {task.number} doesn't repeat.")
            return {"repeat": None}
        due = changes.get("due_date", task.due_date)
        if "due_date" in changes and due is None:
            raise TaskError(NEEDS_A_DATE)
        first, stored = self._first_due(rule, due or self.today)
        return {"repeat": stored, "due_date": first}
