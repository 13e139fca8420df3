"""Keyboard handling for the drawers on narrow screens: focus moves in as one opens, and
Escape closes it."""

from __future__ import annotations

from typing import Any

import reflex as rx

# Runs after the toggle's state update has been drawn: when the panel became a visible drawer,
# focus its close button, so keyboard users land inside it (Escape closes it again). Focus
# already inside stays (Ctrl/⌘+K opens the history to focus its search box, shortcuts.js).
_FOCUS_JS = """
setTimeout(() => {{
  const panel = document.getElementById({panel!r});
  const close = panel && panel.querySelector('.tp-drawer-close');
  if (panel && panel.contains(document.activeElement)) return;
  if (close && getComputedStyle(close).display !== 'none'
      && getComputedStyle(panel).visibility === 'visible') close.focus();
}}, 260);
"""


# On a drawer: Escape presses its close button, which exists (is displayed) only in drawer mode.
CLOSE_ON_ESCAPE: rx.Var = rx.Var(
    "((event) => { if (event.key !== 'Escape') return;"
    " const close = event.currentTarget.querySelector('.tp-drawer-close');"
    " if (close && getComputedStyle(close).display !== 'none') close.click(); })"
)


def focus_drawer(panel_id: str) -> Any:
    """An event that focuses the drawer `panel_id`'s close button if it is now open."""
    return rx.call_script(_FOCUS_JS.format(panel=panel_id))
