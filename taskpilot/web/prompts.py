"""The suggested prompts both chat pages offer on their start screen: (Lucide icon, text)."""

from __future__ import annotations

PROMPTS: tuple[tuple[str, str], ...] = (
    ("calendar-plus", "Add buy milk tomorrow, high priority"),
    ("list-todo", "What's still open?"),
    ("circle-check", "Show my completed tasks"),
    ("trash-2", "Delete the meeting task"),
)


def chatkit_prompts() -> list[dict[str, str]]:
    """The prompts as ChatKit's start-screen prompts (it takes Lucide icons as `lucide:…`)."""
    return [{"label": text, "prompt": text, "icon": f"lucide:{icon}"} for icon, text in PROMPTS]
