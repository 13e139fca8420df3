"""An assistant reply as Markdown: tables, lists, code with a copy button — and no raw HTML.

Reflex's `rx.markdown` turns on rehype-raw by default, which would render HTML inside a reply
(or inside a task title the reply quotes). The bare react-markdown component used here has
only the GFM plugin (tables, task lists, strikethrough): without rehype-raw, react-markdown
shows HTML as text. Math is off, so "$5 and $10" stay prices, and images are not loaded
(their alt text is shown): a reply quoting a crafted task title cannot make the browser
fetch a URL.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from taskpilot.web.components.icon_action import icon_action


def _code_block(code: rx.Var[str], **props: Any) -> rx.Component:
    return rx.box(
        rx.code_block(
            code,
            language=props.get("language"),
            wrap_long_lines=True,
            can_copy=True,
            copy_button=icon_action(
                "copy",
                "Copy code",
                rx.set_clipboard(code),
                icon_size=14,
                box=28,
                type="button",
                class_name="tp-code-copy",
            ),
        ),
        class_name="tp-code",
    )


def _paragraph(text: Any, **props: Any) -> rx.Component:
    return rx.text(text, as_="p", margin_y="0.6em", **props)


def _list(kind: str) -> Any:
    def make(items: Any, **props: Any) -> rx.Component:
        if kind == "ol":
            return rx.list.ordered(items, margin_y="0.5em", padding_left="1.4em", **props)
        return rx.list.unordered(items, margin_y="0.5em", padding_left="1.4em", **props)

    return make


def _item(text: Any, **props: Any) -> rx.Component:
    return rx.list.item(text, margin_y="0.2em", **props)


def _link(text: Any, **props: Any) -> rx.Component:
    return rx.link(text, is_external=True, **props)


COMPONENT_MAP = {
    "p": _paragraph,
    "ul": _list("ul"),
    "ol": _list("ol"),
    "li": _item,
    "a": _link,
    "pre": _code_block,
}


def markdown_view(text: rx.Var[str]) -> rx.Component:
    """Render `text` as Markdown, safely."""
    return rx.el.div(
        rx.markdown.root(
            text,
            component_map=COMPONENT_MAP,
            remark_plugins=[rx.markdown.plugin.gfm],
            custom_attrs={"disallowedElements": ["img"], "unwrapDisallowed": True},
        ),
        class_name="tp-markdown",
    )
