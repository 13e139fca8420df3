"""The "Keyboard shortcuts" help sheet: what `assets/shortcuts.js` does, and the composer's keys.

`SHORTCUTS` is the one list of them: the sheet shows it, and shortcuts.js reads its keys from
the sheet's trigger (`data-shortcuts`, JSON), so a key changed here changes both. The script
keeps only what each command does.

It opens on Ctrl/⌘+/ or from the account menu, both by pressing its trigger: a `hidden`
button (no place in the tab order or the accessibility tree), so the sheet needs no server
round trip and no state. Keys read ⌘ and ⇧ on macOS and Ctrl and Shift elsewhere:
shortcuts.js marks the platform on `<html data-keys>`, and the stylesheet shows one of each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import reflex as rx

TRIGGER_ID = "shortcuts-open"

MOD, SHIFT = "mod", "shift"


@dataclass(frozen=True)
class Shortcut:
    """What a shortcut does (as the sheet says it), its keys, and the shortcuts.js command
    that does it ("": a key of the composer's own)."""

    action: str
    keys: tuple[str, ...]
    command: str = ""


# In the order a person looks for them.
SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("New chat", (MOD, SHIFT, "O"), "new-chat"),
    Shortcut("Focus the message box", (SHIFT, "Esc"), "focus-composer"),
    Shortcut("Search chats", (MOD, "K"), "search"),
    Shortcut("Stop the reply", ("Esc",), "stop"),
    Shortcut("Send the message", ("Enter",)),
    Shortcut("New line in the message", (SHIFT, "Enter")),
    Shortcut("Keyboard shortcuts", (MOD, "/"), "help"),
)


def key_table() -> str:
    """The shortcuts shortcuts.js handles, as it reads them: `[{command, mod, shift, key}]`."""
    return json.dumps(
        [
            {
                "command": shortcut.command,
                "mod": MOD in shortcut.keys,
                "shift": SHIFT in shortcut.keys,
                "key": shortcut.keys[-1],
            }
            for shortcut in SHORTCUTS
            if shortcut.command
        ],
        separators=(",", ":"),
    )


# Platform-specific labels: (macOS, elsewhere, what a screen reader says on macOS).
_NAMES = {MOD: ("⌘", "Ctrl", "Command"), SHIFT: ("⇧", "Shift", "Shift")}

# Closing puts focus back where the sheet was opened from (shortcuts.js marks it); the hidden
# trigger, Radix's default, cannot take it. Focus the person already moved elsewhere while the
# sheet faded out (Esc, then Ctrl+K at once) stays there.
_RETURN_FOCUS: rx.Var = rx.Var(
    "((event) => { const back = document.querySelector('[data-shortcuts-return]');"
    " if (back) back.removeAttribute('data-shortcuts-return');"
    " const here = document.activeElement;"
    " if (here && here !== document.body && !event.target.contains(here)) {"
    " event.preventDefault(); return; }"
    " if (!back || !back.isConnected || back.disabled) return;"
    " event.preventDefault(); back.focus(); })"
)

# The account menu's item: the sheet returns focus to the menu's button, as the menu would.
OPEN_FROM_MENU = (
    "document.querySelector('button[aria-label=\"Account menu\"]')"
    "?.setAttribute('data-shortcuts-return', '');"
    f" document.getElementById('{TRIGGER_ID}')?.click();"
)


def _key(key: str) -> rx.Component:
    if key not in _NAMES:
        return rx.el.kbd(key)
    mac, other, spoken = _NAMES[key]
    return rx.el.kbd(
        rx.el.span(mac, class_name="tp-key-mac", title=spoken, aria_label=spoken),
        rx.el.span(other, class_name="tp-key-other"),
    )


def _row(action: str, keys: tuple[str, ...]) -> rx.Component:
    return rx.el.tr(
        rx.el.th(action, scope="row"),
        rx.el.td(*[_key(key) for key in keys], class_name="tp-keys"),
    )


def shortcuts_dialog() -> rx.Component:
    """The sheet, closed until its hidden trigger is pressed."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.el.button(
                id=TRIGGER_ID,
                type="button",
                hidden=True,
                tab_index=-1,
                custom_attrs={"data-shortcuts": key_table()},
            ),
        ),
        rx.dialog.content(
            rx.dialog.title("Keyboard shortcuts"),
            rx.dialog.description(
                "On the chat page. Shortcuts with ",
                rx.el.span("⌘", class_name="tp-key-mac"),
                rx.el.span("Ctrl", class_name="tp-key-other"),
                " work while you type; Esc stops a reply unless you are in a text box.",
                size="2",
                color_scheme="gray",
                margin_bottom="12px",
            ),
            rx.el.table(
                rx.el.tbody(*[_row(shortcut.action, shortcut.keys) for shortcut in SHORTCUTS]),
                class_name="tp-shortcuts",
            ),
            rx.flex(
                rx.dialog.close(
                    rx.button("Close", type="button", variant="soft", color_scheme="gray"),
                ),
                justify="end",
                margin_top="20px",
            ),
            max_width="440px",
            custom_attrs={"onCloseAutoFocus": _RETURN_FOCUS},
        ),
    )
