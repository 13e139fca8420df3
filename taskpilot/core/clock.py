"""Today's date in TaskPilot's time zone, so 'tomorrow' means the same everywhere."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from taskpilot.core.config import Settings


def today(settings: Settings) -> date:
    """Today in the configured time zone."""
    return datetime.now(ZoneInfo(settings.timezone)).date()
