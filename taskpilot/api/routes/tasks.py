"""A user's tasks, read-only: changes go through the agent's MCP tools."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query

from taskpilot.api.deps import CountedRequest, PathUser, SessionDep
from taskpilot.api.schemas import ErrorOut, TaskList
from taskpilot.api.task_filters import TaskFilters
from taskpilot.services.public import TaskOut
from taskpilot.services.tasks import MAX_LIST, TaskService

router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], dependencies=[CountedRequest])


@router.get(
    "",
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def list_tasks(
    user: PathUser,
    session: SessionDep,
    query: TaskFilters,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST, description="At most this many.")] = 100,
) -> TaskList:
    """Your tasks, filtered and sorted."""
    rows = await TaskService(session, user.id).find(replace(query, limit=limit))
    return TaskList(tasks=[TaskOut.of(row) for row in rows], count=len(rows))
