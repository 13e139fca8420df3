"""A message's time, formatted by the browser in the reader's own time zone."""

from __future__ import annotations

import reflex as rx
from reflex.vars import FunctionStringVar, FunctionVar

_SHORT: FunctionVar = FunctionStringVar.create(
    "((iso) => { const d = new Date(iso); return isNaN(d) ? '' :"
    " d.toLocaleTimeString([], {hour: 'numeric', minute: '2-digit'}); })"
)
_FULL: FunctionVar = FunctionStringVar.create(
    "((iso) => { const d = new Date(iso); return isNaN(d) ? '' :"
    " d.toLocaleString([], {dateStyle: 'medium', timeStyle: 'short'}); })"
)


def timestamp(iso: rx.Var[str]) -> rx.Component:
    """`<time>` showing the time, with the full date and time as its tooltip."""
    return rx.el.time(
        _SHORT.call(iso).to(str),
        date_time=iso,
        title=_FULL.call(iso).to(str),
        class_name="tp-time",
    )
