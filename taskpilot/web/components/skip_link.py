"""The first stop in tab order: a link that jumps to the composer."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.composer import COMPOSER_ID

# Following a fragment scrolls to its target without focusing it; this focuses it.
_FOCUS_COMPOSER: rx.Var = rx.Var(
    f"((event) => {{ event.preventDefault(); document.getElementById('{COMPOSER_ID}')?.focus(); }})"
)


def skip_link() -> rx.Component:
    """Hidden until focused (see `.tp-skip-link`)."""
    return rx.el.a(
        "Skip to the message box",
        href=f"#{COMPOSER_ID}",
        class_name="tp-skip-link",
        custom_attrs={"onClick": _FOCUS_COMPOSER},
    )
