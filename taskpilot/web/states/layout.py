"""LayoutState: which side panels are open. Nothing here is a person's data."""

from __future__ import annotations

import reflex as rx


class LayoutState(rx.State):
    """Panel toggles, relative to each panel's default for the screen size.

    On a wide screen the history sidebar and the task panel are shown until toggled away; on
    a narrow one they are drawers, hidden until toggled in. Keeping one flag per panel (and
    letting CSS apply it per breakpoint) means the server never needs to know the width.
    """

    history_toggled: rx.Field[bool] = rx.field(False)
    tasks_toggled: rx.Field[bool] = rx.field(False)

    @rx.event
    def toggle_history(self) -> None:
        """Show or hide the conversation history."""
        self.history_toggled = not self.history_toggled

    @rx.event
    def toggle_tasks(self) -> None:
        """Show or hide the task panel."""
        self.tasks_toggled = not self.tasks_toggled

    @rx.event
    def close_drawers(self, narrow: bool) -> None:
        """After picking something in a drawer on a narrow screen, put the drawers away."""
        if narrow:
            self.history_toggled = False
            self.tasks_toggled = False
