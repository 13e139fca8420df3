"""ComposerState: the message being typed, kept apart so typing loads no chat history."""

from __future__ import annotations

import reflex as rx

# The composer's element id: focused after a reply, and the skip link's target.
COMPOSER_ID = "composer"


class ComposerState(rx.State):
    """The composer's text (debounced from the browser)."""

    draft: rx.Field[str] = rx.field("")

    @rx.event
    def set_draft(self, value: str) -> None:
        """Keep what the person has typed so far."""
        self.draft = value
