"""Property tests of TaskService on a real SQLite file and a real PostgreSQL.

Hypothesis drives adds, updates, completions, deletions and listings for two people, with
arbitrary text (any Unicode, control codes, unpaired surrogates, the hostile corpus, titles
around the length limit), tags, priorities, dates and task numbers, and checks every answer
against a plain model of what each person should have: per-person numbering that never reuses
a number, nobody ever seeing or changing the other's tasks, listings that agree with what is
stored, text that comes back exactly, and only `TaskError`s for what cannot be done.

Text search is case-insensitive for ASCII on both databases; beyond ASCII, PostgreSQL folds
case and SQLite does not (its `lower()` is ASCII-only), so the model checks search results
between those two bounds.
"""

from __future__ import annotations

import asyncio
import re
import string
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from taskpilot.core.db import Database
from taskpilot.data.models import Priority, Task, User
from taskpilot.services.tasks import (
    MAX_LIST,
    SortOrder,
    StatusFilter,
    TaskError,
    TaskNotFound,
    TaskQuery,
    TaskService,
    clean_tags,
    clean_title,
)
from tests.support.harness import make_settings
from tests.support.hostile_corpus import MARKUP, ODD_UNICODE, SQL_INJECTION, UNSTORABLE

T = TypeVar("T")

CORPUS = SQL_INJECTION + MARKUP + ODD_UNICODE + UNSTORABLE
# Mostly text a person could type (any script, emoji, punctuation), sometimes anything at all.
WORDS = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1, max_size=40)
TEXT = st.one_of(
    WORDS,
    WORDS,
    st.sampled_from(CORPUS),
    st.text(max_size=30),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Mn", "Cf"]), max_size=4),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=195, max_size=205),
)
PRIORITY = st.one_of(
    st.none(), st.sampled_from(["low", "medium", "high", " HIGH ", "Low", "", "urgent", "🔥"])
)
# A few tags and days that recur, so filters and ranges meet the tasks they should find.
TAG_WORDS = st.sampled_from(["work", "#Work", " HOME ", "home-office", "ünï", "a" * 31, ""])
TAGS = st.one_of(
    st.none(),
    st.lists(TAG_WORDS, max_size=3),
    st.lists(TAG_WORDS, max_size=3),
    st.lists(st.one_of(TAG_WORDS, st.text(max_size=12), st.sampled_from(CORPUS)), max_size=12),
    st.text(max_size=40),  # a comma-separated string
)
DAY = st.one_of(st.dates(date(2026, 1, 1), date(2026, 1, 3)), st.dates())


def rarely(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """None three times in four: a listing usually has few filters."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


NUMBER = st.one_of(st.integers(min_value=-1, max_value=12), st.sampled_from([2**31, 2**63]))
NEEDLE_CHARS = string.ascii_letters + string.digits + " %_'\\-"


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs")


def spec_title(raw: str) -> str | None:
    """What a title is stored as, or None when it must be refused."""
    value = " ".join(raw.split())
    if not value or len(value) > 200 or any(map(_is_control, value)):
        return None
    return value


def spec_description(raw: str | None) -> str | None:
    value = (raw or "").strip()
    if len(value) > 2000 or any(_is_control(c) and c not in "\t\n\r" for c in value):
        return None
    return value


def spec_priority(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return "medium"
    value = raw.strip().lower()
    return value if value in ("low", "medium", "high") else None


def spec_tags(raw: list[str] | str | None) -> list[str] | None:
    try:
        return clean_tags(raw)  # its own properties are checked below
    except TaskError:
        return None


def ascii_lower(text: str) -> str:
    return re.sub("[A-Z]+", lambda m: m.group(0).lower(), text)


def unicode_lower(text: str) -> str:
    return "".join(char.lower()[0] for char in text)


def record(task: Task) -> dict[str, Any]:
    """The fields the model keeps, as the database returned them."""
    assert (task.completed_at is not None) == task.completed, "completed_at follows completed"
    return {
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "due_date": task.due_date,
        "tags": list(task.tags),
        "completed": task.completed,
    }


class TaskLists(RuleBasedStateMachine):
    """Two people's task lists, in the database and in a dictionary."""

    database_url: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = Database(make_settings(self.database_url))
        self.users = [self.run(self._new_user()) for _ in range(2)]
        self.model: dict[str, dict[int, dict[str, Any]]] = {user: {} for user in self.users}
        self.next_number = dict.fromkeys(self.users, 1)

    def run(self, coroutine: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.db.dispose())
        self.loop.close()

    async def _new_user(self) -> str:
        async with self.db.session() as session:
            user = User(email=f"{uuid.uuid4().hex}@example.com")
            session.add(user)
            await session.commit()
            return user.id

    def call(self, who: int, operation: Callable[[TaskService], Awaitable[T]]) -> T:
        """Run one operation in a session of its own, as every caller does."""

        async def go() -> T:
            async with self.db.session() as session:
                return await operation(TaskService(session, self.users[who]))

        return self.run(go())

    # --- rules -------------------------------------------------------------------------------

    @initialize(
        tasks=st.lists(
            st.tuples(st.integers(0, 1), WORDS, PRIORITY, st.none() | DAY, TAGS), max_size=8
        )
    )
    def some_tasks(self, tasks: list[tuple[int, str, str | None, date | None, Any]]) -> None:
        for who, title, priority, due, tags in tasks:
            self.add(who, title, None, priority, due, tags)

    @rule(
        who=st.integers(0, 1),
        title=TEXT,
        description=st.none() | TEXT,
        priority=PRIORITY,
        due=st.none() | DAY,
        tags=TAGS,
    )
    def add(
        self,
        who: int,
        title: str,
        description: str | None,
        priority: str | None,
        due: date | None,
        tags: list[str] | str | None,
    ) -> None:
        fields = {
            "title": spec_title(title),
            "description": spec_description(description),
            "priority": spec_priority(priority),
            "tags": spec_tags(tags),
        }
        user = self.users[who]
        try:
            task = self.call(who, lambda tasks: tasks.add(title, description, priority, due, tags))
        except TaskError as exc:
            assert None in fields.values(), f"refused valid input: {exc}"
            assert str(exc).endswith("."), "a sentence for the person"
            return
        assert None not in fields.values(), f"accepted invalid input: {fields}"
        assert task.number == self.next_number[user], "numbers count up per person"
        self.next_number[user] += 1
        expected = {**fields, "due_date": due, "completed": False}
        assert record(task) == expected
        self.model[user][task.number] = expected

    @rule(
        who=st.integers(0, 1),
        number=NUMBER,
        title=st.none() | TEXT,
        description=st.none() | TEXT,
        priority=PRIORITY,
        due=st.none() | DAY,
        clear_due=st.booleans(),
        tags=TAGS,
        completed=st.none() | st.booleans(),
    )
    def update(
        self,
        who: int,
        number: int,
        title: str | None,
        description: str | None,
        priority: str | None,
        due: date | None,
        clear_due: bool,
        tags: list[str] | str | None,
        completed: bool | None,
    ) -> None:
        user = self.users[who]
        current = self.model[user].get(number)
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = spec_title(title)
        if description is not None:
            changes["description"] = spec_description(description)
        if priority is not None:
            changes["priority"] = spec_priority(priority)
        if clear_due or due is not None:
            changes["due_date"] = None if clear_due else due
        if tags is not None:
            changes["tags"] = spec_tags(tags)
        if current is not None and completed is not None and completed != current["completed"]:
            changes["completed"] = completed
        refused = any(v is None for k, v in changes.items() if k != "due_date") or not changes
        try:
            task = self.call(
                who,
                lambda tasks: tasks.update(
                    number,
                    title=title,
                    description=description,
                    priority=priority,
                    due_date=due,
                    clear_due_date=clear_due,
                    tags=tags,
                    completed=completed,
                ),
            )
        except TaskNotFound:
            assert current is None
            return
        except TaskError:
            assert current is not None and refused, f"refused a valid update: {changes}"
            return
        assert current is not None and not refused, f"accepted {changes}"
        current.update(changes)
        assert record(task) == current

    @rule(who=st.integers(0, 1), number=NUMBER, completed=st.booleans())
    def complete(self, who: int, number: int, completed: bool) -> None:
        current = self.model[self.users[who]].get(number)
        try:
            task = self.call(who, lambda tasks: tasks.complete(number, completed))
        except TaskNotFound:
            assert current is None
            return
        assert current is not None
        current["completed"] = completed
        assert record(task) == current

    @rule(who=st.integers(0, 1), number=NUMBER)
    def delete(self, who: int, number: int) -> None:
        user = self.users[who]
        try:
            task = self.call(who, lambda tasks: tasks.delete(number))
        except TaskNotFound:
            assert number not in self.model[user]
            return
        assert record(task) == self.model[user].pop(number)

    @rule(
        who=st.integers(0, 1),
        status=st.sampled_from(StatusFilter),
        priority=rarely(st.sampled_from(Priority)),
        tag=rarely(TAG_WORDS | TEXT),
        needle=rarely(st.text(NEEDLE_CHARS, max_size=4)),
        from_title=st.booleans(),
        due_before=rarely(DAY),
        due_after=rarely(DAY),
        sort=st.sampled_from(SortOrder),
        limit=st.integers(-3, MAX_LIST + 5),
        data=st.data(),
    )
    def find(
        self,
        who: int,
        status: StatusFilter,
        priority: Priority | None,
        tag: str | None,
        needle: str | None,
        from_title: bool,
        due_before: date | None,
        due_after: date | None,
        sort: SortOrder,
        limit: int,
        data: st.DataObject,
    ) -> None:
        user = self.users[who]
        mine = self.model[user]
        ascii_titles = [t["title"] for t in mine.values() if t["title"].isascii()]
        if from_title and ascii_titles:
            title = data.draw(st.sampled_from(ascii_titles))
            start = data.draw(st.integers(0, len(title) - 1))
            needle = title[start : start + data.draw(st.integers(1, 6))].swapcase()
        query = TaskQuery(status, priority, tag, needle, due_before, due_after, sort, limit)
        try:
            tag_filter = clean_tags([tag]) if tag else []
        except TaskError:
            with pytest.raises(TaskError):
                self.call(who, lambda tasks: tasks.find(query))
            return
        found = self.call(who, lambda tasks: tasks.find(query))
        numbers = [task.number for task in found]
        assert len(set(numbers)) == len(numbers)
        assert all(task.user_id == user for task in found), "only the caller's tasks"
        for task in found:
            assert record(task) == mine[task.number]

        def matches(item: dict[str, Any], lower: Callable[[str], str]) -> bool:
            if status is StatusFilter.PENDING and item["completed"]:
                return False
            if status is StatusFilter.COMPLETED and not item["completed"]:
                return False
            if priority is not None and item["priority"] != priority.value:
                return False
            if tag_filter and tag_filter[0] not in item["tags"]:
                return False
            due = item["due_date"]
            if due_before is not None and (due is None or due > due_before):
                return False
            if due_after is not None and (due is None or due < due_after):
                return False
            text = (needle or "").strip().lower()
            return not text or text in lower(item["title"]) or text in lower(item["description"])

        surely = {n for n, item in mine.items() if matches(item, ascii_lower)}
        maybe = {n for n, item in mine.items() if matches(item, unicode_lower)}
        cap = max(1, min(limit, MAX_LIST))
        assert set(numbers) <= maybe
        assert min(cap, len(surely)) <= len(numbers) <= min(cap, len(maybe))
        if cap >= len(maybe):
            assert surely <= set(numbers)
        if surely != maybe:
            return  # non-ASCII case folding decides: its order is not the model's to say
        assert len(numbers) == min(cap, len(surely))
        rank = {"high": 0, "medium": 1, "low": 2}
        keys: dict[SortOrder, Callable[[int], Any]] = {
            SortOrder.CREATED: lambda n: n,
            SortOrder.DUE: lambda n: (
                mine[n]["due_date"] is None,
                mine[n]["due_date"] or date.min,
                n,
            ),
            SortOrder.PRIORITY: lambda n: (rank[mine[n]["priority"]], n),
        }
        if sort in keys:
            assert numbers == sorted(surely, key=keys[sort])[:cap]
        elif cap >= len(surely):
            assert set(numbers) == surely

    # --- what always holds ----------------------------------------------------------------------

    @invariant()
    def each_person_has_exactly_their_tasks(self) -> None:
        for who, user in enumerate(self.users):
            mine = self.model[user]
            stored = self.call(who, lambda tasks: tasks.find(TaskQuery(limit=MAX_LIST)))
            assert [task.number for task in stored] == sorted(mine)
            assert all(task.number < self.next_number[user] for task in stored)
            for task in stored:
                assert task.user_id == user
                assert record(task) == mine[task.number]
            rank = {"high": 0, "medium": 1, "low": 2}
            by_priority = self.call(
                who, lambda tasks: tasks.find(TaskQuery(sort=SortOrder.PRIORITY, limit=MAX_LIST))
            )
            assert [task.number for task in by_priority] == sorted(
                mine, key=lambda n: (rank[mine[n]["priority"]], n)
            )
            pending_by_due = self.call(
                who,
                lambda tasks: tasks.find(
                    TaskQuery(StatusFilter.PENDING, sort=SortOrder.DUE, limit=MAX_LIST)
                ),
            )
            assert [task.number for task in pending_by_due] == sorted(
                (n for n, item in mine.items() if not item["completed"]),
                key=lambda n: (mine[n]["due_date"] is None, mine[n]["due_date"] or date.min, n),
            )


@pytest.mark.parametrize("steps", [30])
def test_task_service_agrees_with_a_model_of_two_lists(database_url: str, steps: int) -> None:
    """Any sequence of operations by two people leaves each with exactly the tasks a plain
    model predicts, numbered per person, and refuses what it refuses with a TaskError."""
    TaskLists.database_url = database_url
    run_state_machine_as_test(
        TaskLists,
        settings=hsettings(
            max_examples=15 if "postgres" in database_url else 25,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


async def test_a_refused_update_changes_nothing_even_when_the_session_goes_on(
    database_url: str,
) -> None:
    """An update with one bad field leaves no half-applied change that a later commit in the
    same session would write."""
    db = Database(make_settings(database_url))
    try:
        async with db.session() as session:
            user = User(email="ada@example.com")
            session.add(user)
            await session.commit()
            tasks = TaskService(session, user.id)
            await tasks.add("Original title")
            await tasks.add("Another task")
            with pytest.raises(TaskError, match="description can't contain"):
                await tasks.update(1, title="Changed", description="bad\x00")
            await tasks.complete(2)
        async with db.session() as session:
            assert (await TaskService(session, user.id).get(1)).title == "Original title"
    finally:
        await db.dispose()


async def test_a_tag_filter_matches_whole_tags_even_with_like_wildcards(
    database_url: str,
) -> None:
    """ "_" is a LIKE wildcard: the tag filter must still match only that exact tag (the
    property test above found "_" matching any one-letter tag)."""
    db = Database(make_settings(database_url))
    try:
        async with db.session() as session:
            user = User(email="ada@example.com")
            session.add(user)
            await session.commit()
            tasks = TaskService(session, user.id)
            for tag in ("n", "_", "x_y", "xay", "100%"):
                await tasks.add(f"tagged {tag}", tags=[tag])
            for tag, titles in (("_", ["tagged _"]), ("x_y", ["tagged x_y"]), ("n", ["tagged n"])):
                found = await tasks.find(TaskQuery(tag=tag))
                assert [task.title for task in found] == titles
    finally:
        await db.dispose()


@hsettings(max_examples=300, deadline=None)
@given(st.one_of(TAGS, st.lists(TEXT, max_size=12)))
def test_clean_tags_gives_short_unique_safe_tags_or_a_reason(raw: Any) -> None:
    """Tags come out lower-case `[a-z0-9_-]`, 1-30 characters, unique, at most ten, stable
    when cleaned again — or the input is refused with a TaskError."""
    try:
        tags = clean_tags(raw)
    except TaskError as exc:
        assert "at most" in str(exc)
        return
    assert len(tags) <= 10 and len(set(tags)) == len(tags)
    assert all(re.fullmatch(r"[a-z0-9_-]{1,30}", tag) for tag in tags)
    assert clean_tags(tags) == tags


@hsettings(max_examples=300, deadline=None)
@given(TEXT)
def test_clean_title_keeps_the_words_or_says_why_not(raw: str) -> None:
    """A title is the input's words single-spaced, or a TaskError — never a crash."""
    try:
        title = clean_title(raw)
    except TaskError as exc:
        assert spec_title(raw) is None, exc
        return
    assert title == spec_title(raw) == " ".join(raw.split())
    assert clean_title(title) == title
