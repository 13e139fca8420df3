"""Repeat rules read from words and from RRULEs, said in words, and refused with a reason
(pure functions: `taskpilot/services/repeats.py`)."""

from __future__ import annotations

from datetime import date

import pytest

from taskpilot.services.repeats import (
    RepeatError,
    clean_repeat,
    read_repeat,
    read_rrule,
    repeat_in_words,
)


@pytest.mark.parametrize(
    ("said", "rule", "words"),
    [
        ("every day", "FREQ=DAILY", "every day"),
        ("daily", "FREQ=DAILY", "every day"),
        ("every other day", "FREQ=DAILY;INTERVAL=2", "every other day"),
        ("every 3 days", "FREQ=DAILY;INTERVAL=3", "every 3 days"),
        ("every weekday", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "every weekday"),
        ("every weekend", "FREQ=WEEKLY;BYDAY=SA,SU", "every Saturday and Sunday"),
        ("every week", "FREQ=WEEKLY", "every week"),
        ("every other week", "FREQ=WEEKLY;INTERVAL=2", "every other week"),
        ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2", "every other week"),
        ("fortnightly", "FREQ=WEEKLY;INTERVAL=2", "every other week"),
        ("every three weeks", "FREQ=WEEKLY;INTERVAL=3", "every 3 weeks"),
        ("every monday", "FREQ=WEEKLY;BYDAY=MO", "every Monday"),
        ("Every Mon and Thu", "FREQ=WEEKLY;BYDAY=MO,TH", "every Monday and Thursday"),
        (
            "every tue, wed & fri",
            "FREQ=WEEKLY;BYDAY=TU,WE,FR",
            "every Tuesday, Wednesday and Friday",
        ),
        ("every other monday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "every other Monday"),
        ("every 3 weeks on friday", "FREQ=WEEKLY;INTERVAL=3;BYDAY=FR", "every 3 weeks on Friday"),
        ("monthly", "FREQ=MONTHLY", "monthly"),
        ("every other month", "FREQ=MONTHLY;INTERVAL=2", "every other month"),
        ("monthly on the 15th", "FREQ=MONTHLY;BYMONTHDAY=15", "monthly on the 15th"),
        ("on the 1st of every month", "FREQ=MONTHLY;BYMONTHDAY=1", "monthly on the 1st"),
        ("every month on the 31st", "FREQ=MONTHLY;BYMONTHDAY=-1", "monthly on the last day"),
        ("every month on the last day", "FREQ=MONTHLY;BYMONTHDAY=-1", "monthly on the last day"),
        ("yearly", "FREQ=YEARLY", "every year"),
        ("every year on march 14", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14", "every year on March 14"),
    ],
)
def test_repeats_said_in_words_become_rules_and_read_back(said: str, rule: str, words: str) -> None:
    repeat = read_repeat(said)
    assert repeat is not None and repeat.rrule() == rule
    assert repeat_in_words(rule) == words
    assert clean_repeat(said) == clean_repeat(rule) == clean_repeat(f"RRULE:{rule}")


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=MONTHLY;BYDAY=-1FR", "monthly on the last Friday"),
        ("FREQ=MONTHLY;INTERVAL=3;BYDAY=1MO", "every 3 months on the first Monday"),
        ("FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1", "monthly on the 30th"),
        ("FREQ=MONTHLY;BYMONTHDAY=30", "monthly on the 30th"),  # and February's last day
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1", "every year on February 29"),
        ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=-1", "every year on the last day of April"),
        ("freq=weekly;wkst=mo;byday=we", "every Wednesday"),
        ("", ""),
        ("FREQ=HOURLY", ""),  # no longer readable: nothing to say
    ],
)
def test_rules_in_words(rule: str, words: str) -> None:
    assert repeat_in_words(rule) == words


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("FREQ=HOURLY", "daily, weekly, monthly or yearly"),
        ("FREQ=DAILY;COUNT=3", "stop it instead"),
        ("FREQ=WEEKLY;UNTIL=20270101", "stop it instead"),
        ("FREQ=WEEKLY;BYHOUR=9", "not part of a repeat"),
        ("FREQ=WEEKLY;BYDAY=MO;BYDAY=TU", "not part of a repeat"),
        ("FREQ=WEEKLY;INTERVAL=0", "from 1 to 99"),
        ("FREQ=WEEKLY;BYDAY=XX", "not a day of the week"),
        ("FREQ=MONTHLY;BYDAY=MO", "TaskPilot keeps repeats like"),
        ("FREQ=MONTHLY;BYDAY=1MO,-1FR", "TaskPilot keeps repeats like"),
        ("FREQ=DAILY;BYMONTHDAY=3", "TaskPilot keeps repeats like"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "one day of the month"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "one day of the month"),
        ("FREQ=MONTHLY;BYSETPOS=-1", "BYSETPOS is kept only"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,2;BYSETPOS=-1", "BYSETPOS is kept only"),
        ("FREQ=YEARLY;BYMONTH=2", "TaskPilot keeps repeats like"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "February has no day 30"),
        ("every year on april 31", "April has no day 31"),
        ("every month on the 32nd", "no day 32"),
        ("every blue moon", "can't read 'every blue moon'"),
        ("every 0 days", "can't read"),
        ("FREQ=DAILY;" + "INTERVAL=1;" * 30, "at most 200"),
    ],
)
def test_rules_taskpilot_cannot_keep_are_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(RepeatError, match=reason):
        clean_repeat(value)


def test_none_stops_repeating_and_the_first_date_ignores_the_interval() -> None:
    assert clean_repeat("none") is None and clean_repeat(" Never ") is None
    other_monday = read_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")
    # From a Wednesday: the coming Monday (the interval counts from it), then two weeks on.
    first = other_monday.first_on_or_after(date(2026, 12, 2))
    assert first == date(2026, 12, 7)
    assert other_monday.next_after(first, date(2026, 12, 2)) == date(2026, 12, 21)
    assert read_rrule("FREQ=YEARLY").anchored(date(2027, 3, 31)).rrule() == (
        "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=-1"
    )
    assert read_rrule("FREQ=WEEKLY").anchored(date(2027, 3, 31)).rrule() == "FREQ=WEEKLY"
