"""Today's date in the person's time zone, so 'tomorrow' means what they mean by it.

A turn runs `in_zone(the person's zone)`: everything it calls in this process (the offline
model, the in-process MCP tools reading "friday", the instructions that name the date) asks
`today`, which reads that zone, else the server's TIMEZONE. A context variable carries it, so
the tools in the turn's MCP session and the model's worker thread see it too; the page's
task panel reads its marks in it as well. (A remote MCP server, `MCP_URL`, still reads date
words in the server's TIMEZONE: nothing carries the zone over HTTP.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from taskpilot.core.config import Settings

_zone: ContextVar[str | None] = ContextVar("taskpilot_zone", default=None)


def today(settings: Settings) -> date:
    """Today in the running turn's time zone, else the configured one (also when the
    person's stored zone can no longer be loaded)."""
    zone = _zone.get()
    if zone:
        try:
            return datetime.now(ZoneInfo(zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.now(ZoneInfo(settings.timezone)).date()


@contextmanager
def in_zone(zone: str | None) -> Iterator[None]:
    """Make `today` answer in `zone` (an IANA name) within this block; None: the server's."""
    token = _zone.set(zone)
    try:
        yield
    finally:
        _zone.reset(token)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def clean_zone(name: object) -> str:
    """An IANA time zone name as stored ("Europe/Paris"); ValueError, in words, otherwise."""
    text = str(name or "").strip()
    if text not in _known_zones():
        raise ValueError(f"{text[:64]!r} is not a time zone; use an IANA name like Europe/Paris.")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{text[:64]!r} is not a time zone on this server.") from exc
    return text
