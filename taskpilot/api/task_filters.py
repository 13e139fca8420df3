"""The task filters of the task routes, declared once: `GET /api/{user_id}/tasks` (a page of
them) and `GET /api/{user_id}/tasks.csv` (every match) read the same query parameters into a
`TaskQuery` through the `TaskFilters` dependency."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BeforeValidator

from taskpilot.data.models import Priority
from taskpilot.services.tasks import SortOrder, StatusFilter, TaskQuery

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    # Pydantic would also read "0" or "86400" as Unix times; a filter date is YYYY-MM-DD only.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("use a date like 2026-12-01")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


async def task_filters(
    status: Annotated[
        StatusFilter, Query(description="Which tasks: all, pending or completed.")
    ] = StatusFilter.ALL,
    priority: Annotated[Priority | None, Query(description="Only this priority.")] = None,
    tag: Annotated[
        str | None, Query(max_length=30, description="Only tasks with this tag.")
    ] = None,
    search: Annotated[
        str | None,
        Query(max_length=200, description="Words to find in the title or description."),
    ] = None,
    due_before: Annotated[
        IsoDate | None, Query(description="Due on or before this date (YYYY-MM-DD).")
    ] = None,
    due_after: Annotated[
        IsoDate | None, Query(description="Due on or after this date (YYYY-MM-DD).")
    ] = None,
    sort: Annotated[
        SortOrder, Query(description="Order: created, due, priority or title.")
    ] = SortOrder.CREATED,
) -> TaskQuery:
    """The filters as a query of every matching task (a route may then take a page)."""
    return TaskQuery(
        status=status,
        priority=priority,
        tag=tag,
        text=search,
        due_before=due_before,
        due_after=due_after,
        sort=sort,
        limit=None,
    )


TaskFilters = Annotated[TaskQuery, Depends(task_filters)]
