"""A user's tasks, read-only: changes go through the agent's MCP tools."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from taskpilot.api.deps import CountedRequest, PathUser, SessionDep
from taskpilot.api.schemas import ErrorOut, TaskList
from taskpilot.data.models import Priority
from taskpilot.services.public import TaskOut
from taskpilot.services.tasks import SortOrder, StatusFilter, TaskQuery, TaskService

router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], dependencies=[CountedRequest])
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    # Pydantic would also read "0" or "86400" as Unix times; a filter date is YYYY-MM-DD only.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("use a date like 2026-12-01")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


@router.get(
    "",
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def list_tasks(
    user: PathUser,
    session: SessionDep,
    status: StatusFilter = StatusFilter.ALL,
    priority: Priority | None = None,
    tag: Annotated[str | None, Query(max_length=30)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    due_before: IsoDate | None = None,
    due_after: IsoDate | None = None,
    sort: SortOrder = SortOrder.CREATED,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> TaskList:
    """Your tasks, filtered and sorted."""
    query = TaskQuery(
        status=status,
        priority=priority,
        tag=tag,
        text=search,
        due_before=due_before,
        due_after=due_after,
        sort=sort,
        limit=limit,
    )
    rows = await TaskService(session, user.id).find(query)
    return TaskList(tasks=[TaskOut.of(row) for row in rows], count=len(rows))
