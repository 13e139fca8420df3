"""What the chat page says about things: due dates, history groups, greetings.

Tool calls in words live in `taskpilot.agent.tool_words` (ChatKit shows them too), and a
repeating task's rule in words ("every Monday") in `taskpilot.services.repeats` (the offline
model's replies say it too).

Plain functions of plain values, so they are tested without a browser.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta


def due_in_words(due: date | None, today: date) -> tuple[str, str]:
    """A due date as a badge: (label, tone) with tone overdue/today/soon/later, or ("", "")."""
    if due is None:
        return "", ""
    days = (due - today).days
    when = f"{due:%b} {due.day}" if due.year == today.year else f"{due:%b} {due.day}, {due.year}"
    if days < 0:
        return f"Overdue · {when}", "overdue"
    if days == 0:
        return "Due today", "today"
    if days == 1:
        return "Due tomorrow", "soon"
    if days < 7:
        return f"Due {due:%a}", "soon"
    return f"Due {when}", "later"


def history_group(when: datetime, now: datetime) -> str:
    """The sidebar section a conversation last active at `when` belongs to (both aware)."""
    day = when.astimezone(now.tzinfo).date()
    today = now.date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    if day > today - timedelta(days=30):
        return "Previous 30 days"
    return f"{day:%B %Y}" if day.year != today.year else f"{day:%B}"


def greeting(display_name: str) -> str:
    """The start screen's heading."""
    name = " ".join(display_name.split())
    first = name.split(" ")[0] if name else ""
    return f"What's on your list, {first}?" if first else "What's on your list today?"


def initials(display_name: str, email: str) -> str:
    """One or two letters for the account button."""
    words = [w for w in re.split(r"[\s._-]+", display_name or email.split("@")[0]) if w]
    if not words:
        return "?"
    letters = words[0][0] + (words[1][0] if len(words) > 1 else "")
    return letters.upper()
