"""A quiet icon-only button with an accessible name, the page's most common control."""

from __future__ import annotations

from typing import Any

import reflex as rx


def icon_action(
    icon: str | rx.Component,
    label: Any,
    on_click: Any = None,
    *,
    icon_size: int = 16,
    box: int = 32,
    tone: str = "gray",
    **props: Any,
) -> rx.Component:
    """A ghost `icon_button` named `label`, `box` pixels square.

    Radix's `size` prop would resize the icon and its ghost variant pulls the button outwards
    with negative margins; a fixed box and zero margin keep rows of these evenly spaced.
    """
    child = rx.icon(icon, size=icon_size) if isinstance(icon, str) else icon
    if on_click is not None:
        props["on_click"] = on_click
    return rx.icon_button(
        child,
        aria_label=label,
        variant="ghost",
        color_scheme=tone,
        width=f"{box}px",
        height=f"{box}px",
        margin="0",
        padding="0",
        **props,
    )
