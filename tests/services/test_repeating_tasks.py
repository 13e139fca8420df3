"""Repeating tasks in TaskService, on a real SQLite file and a real PostgreSQL: the rule is
stored as an RRULE, the due date is its next date, and completing the task moves it on once.
Rules read from words and said in words are in `test_repeat_rules.py`."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from taskpilot.data.models import Task
from taskpilot.runtime import Runtime
from taskpilot.services.tasks import StatusFilter, TaskError, TaskQuery, TaskService
from tests.services.test_task_service import new_user

WEDNESDAY = date(2026, 12, 2)


async def complete_on(
    runtime: Runtime, user: str, number: int, today: date, seen: date | None = None
) -> Task:
    """The task completed by its person on `today` (having seen it due on `seen`), in a
    session of its own."""
    async with runtime.db.session() as session:
        return await TaskService(session, user, today).complete(number, occurrence=seen)


async def test_a_task_repeating_every_monday_is_due_on_the_coming_one_and_moves_on_when_done(
    runtime: Runtime,
) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        tasks = TaskService(session, user, WEDNESDAY)
        added = await tasks.add("Water the ferns", repeat="every monday")
    assert (added.number, added.due_date, added.repeat) == (
        1,
        date(2026, 12, 7),
        "FREQ=WEEKLY;BYDAY=MO",
    )

    done = await complete_on(runtime, user, 1, WEDNESDAY)  # done early: the next Monday is next
    assert (done.number, done.due_date, done.completed, done.completed_at) == (
        1,
        date(2026, 12, 14),
        False,
        None,
    )
    async with runtime.db.session() as session:
        tasks = TaskService(session, user)
        assert [(t.number, t.due_date) for t in await tasks.find()] == [(1, date(2026, 12, 14))]
        assert await tasks.find(TaskQuery(status=StatusFilter.COMPLETED)) == []
        reopened = await tasks.complete(1, completed=False)  # open already: nothing changes
    assert (reopened.due_date, reopened.completed) == (date(2026, 12, 14), False)


async def test_a_late_completion_skips_the_dates_missed_and_keeps_the_interval(
    runtime: Runtime,
) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        tasks = TaskService(session, user, WEDNESDAY)
        await tasks.add("Water the ferns", repeat="FREQ=WEEKLY;BYDAY=MO")
        await tasks.add("Bins out", repeat="every other monday")
    # Done on a Wednesday three weeks late: the coming Monday, not the ones missed.
    assert (await complete_on(runtime, user, 1, date(2026, 12, 23))).due_date == date(2026, 12, 28)
    # Done on the Monday itself (a date of the rule): the one after.
    assert (await complete_on(runtime, user, 1, date(2026, 12, 28))).due_date == date(2027, 1, 4)
    # Every other Monday from 7 December: 21 December has passed, so 4 January.
    assert (await complete_on(runtime, user, 2, date(2026, 12, 30))).due_date == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("first", "expected_rule", "dates"),
    [
        (  # the 31st: the last day of every month
            date(2027, 1, 31),
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)],
        ),
        (  # the 30th: the 30th, or the last day of a shorter month, back on the 30th after
            date(2028, 1, 30),
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1",
            [date(2028, 2, 29), date(2028, 3, 30), date(2028, 4, 30)],
        ),
        (  # 29 February: the 28th in other years, the 29th again in a leap year
            date(2028, 2, 29),
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1",
            [date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)],
        ),
    ],
)
async def test_month_ends_and_leap_days_fall_where_people_expect(
    runtime: Runtime, first: date, expected_rule: str, dates: list[date]
) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    freq = "FREQ=YEARLY" if expected_rule.startswith("FREQ=YEARLY") else "FREQ=MONTHLY"
    async with runtime.db.session() as session:
        added = await TaskService(session, user, WEDNESDAY).add("Pay", due_date=first, repeat=freq)
    assert (added.due_date, added.repeat) == (first, expected_rule)
    seen = []
    for _ in dates:  # done each time on its due date
        seen.append((await complete_on(runtime, user, 1, seen[-1] if seen else first)).due_date)
    assert seen == dates


async def test_setting_and_stopping_a_repeat_on_an_existing_task(runtime: Runtime) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        tasks = TaskService(session, user, WEDNESDAY)
        await tasks.add("Stretch")
        await tasks.add("Report", due_date=date(2026, 12, 10))  # a Thursday
        await tasks.add("Old", due_date=date(2026, 11, 2))  # passed
        daily = await tasks.update(1, repeat="every day")
        assert (daily.repeat, daily.due_date) == ("FREQ=DAILY", WEDNESDAY)  # from today
        # From its own due date when it has one: the Monday after that Thursday.
        weekly = await tasks.update(2, repeat="every monday")
        assert (weekly.repeat, weekly.due_date) == ("FREQ=WEEKLY;BYDAY=MO", date(2026, 12, 14))
        # A date passed stays (the task is overdue; done, it moves past today).
        assert (await tasks.update(3, repeat="monthly")).due_date == date(2026, 11, 2)
        assert (await tasks.get(3)).repeat == "FREQ=MONTHLY;BYMONTHDAY=2"
        # A due date given with the rule is where it starts.
        moved = await tasks.update(1, repeat="every weekday", due_date=date(2026, 12, 5))
        assert (moved.due_date, moved.repeat) == (
            date(2026, 12, 7),
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        )
        stopped = await tasks.update(2, repeat="none")
        assert (stopped.repeat, stopped.due_date) == (None, date(2026, 12, 14))  # date kept
        with pytest.raises(TaskError, match="Task 2 doesn't repeat"):
            await tasks.update(2, repeat="none")
        with pytest.raises(TaskError, match="needs a due date"):
            await tasks.update(1, clear_due_date=True)
        with pytest.raises(TaskError, match="needs a due date"):
            await tasks.update(1, clear_due_date=True, repeat="daily")
        with pytest.raises(TaskError, match="can't read 'every blue moon'"):
            await tasks.update(1, title="Renamed", repeat="every blue moon")
        with pytest.raises(TaskError, match="after a count"):
            await tasks.add("x", repeat="FREQ=DAILY;COUNT=3")
    async with runtime.db.session() as session:
        kept = await TaskService(session, user).get(1)  # a refused update changed nothing
    assert (kept.title, kept.repeat, kept.due_date) == (
        "Stretch",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        date(2026, 12, 7),
    )


async def test_two_completions_at_once_move_a_repeating_task_one_step(runtime: Runtime) -> None:
    """Two tabs showing the same repeating task complete it at the same moment: it moves to
    its next date once, whichever reads it first, and both are answered with it there. (A
    completion that does not say which date it saw, a model's, moves it on each time it
    finds it still due there: the UPDATE holds only on the date it read.)"""
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        await TaskService(session, user, WEDNESDAY).add("Water the ferns", repeat="every monday")
    for seen, expected in (
        (date(2026, 12, 7), date(2026, 12, 14)),
        (date(2026, 12, 14), date(2026, 12, 21)),
    ):
        answers = await asyncio.gather(
            *(complete_on(runtime, user, 1, WEDNESDAY, seen) for _ in range(3))
        )
        assert [task.due_date for task in answers] == [expected] * 3
    async with runtime.db.session() as session:
        (task,) = await TaskService(session, user).find()
    assert (task.due_date, task.completed) == (date(2026, 12, 21), False)
