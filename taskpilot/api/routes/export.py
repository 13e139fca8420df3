"""Your tasks out of TaskPilot: a CSV download, and a private calendar feed at a secret URL
(`taskpilot/services/export.py` says how the secret is made and checked)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status

from taskpilot.api.deps import ClientAddress, CountedRequest, PathUser, RuntimeDep, SessionDep
from taskpilot.api.schemas import CalendarFeedOut, ErrorOut
from taskpilot.api.task_filters import TaskFilters
from taskpilot.core.origins import own_origin
from taskpilot.services.export import (
    CSV_FILENAME,
    CalendarFeeds,
    feed_calendar,
    feed_owner,
    feed_path,
    tasks_csv,
)

router = APIRouter(tags=["export"])

# One answer for every secret that opens no feed: unknown, revoked, replaced or malformed.
NO_FEED = "There is no calendar feed at this address (it may have been turned off)."
_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    429: {"model": ErrorOut},
}


@router.get(
    "/api/{user_id}/tasks.csv",
    dependencies=[CountedRequest],
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "Your tasks as a CSV file."},
        **_SIGNED_IN,
        422: {"model": ErrorOut},
    },
)
async def export_tasks_csv(
    user: PathUser,
    session: SessionDep,
    runtime: RuntimeDep,
    query: TaskFilters,
) -> Response:
    """Your tasks as CSV (UTF-8 with a byte-order mark, for Excel): number, title, status,
    priority, due date, tags, description, created, completed (times in your time zone).
    The filters are `GET /api/{user_id}/tasks`'s; every matching task is included."""
    zone = user.timezone or runtime.settings.timezone
    body = await tasks_csv(session, user.id, query, zone)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{CSV_FILENAME}"'},
    )


@router.post(
    "/api/{user_id}/calendar-feed",
    dependencies=[CountedRequest],
    status_code=status.HTTP_201_CREATED,
    responses=_SIGNED_IN,
)
async def create_calendar_feed(
    user: PathUser, session: SessionDep, runtime: RuntimeDep, request: Request
) -> CalendarFeedOut:
    """A private URL of your tasks with due dates, for a calendar app to subscribe to.
    Asking again replaces it: the earlier URL stops working at once."""
    secret = await CalendarFeeds(session, user.id).create()
    origin = own_origin(
        request.url.scheme, request.headers, runtime.settings.trusted_proxies
    ) or str(request.base_url).rstrip("/")
    return CalendarFeedOut(url=origin + feed_path(secret))


@router.delete(
    "/api/{user_id}/calendar-feed",
    dependencies=[CountedRequest],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_SIGNED_IN,
)
async def revoke_calendar_feed(user: PathUser, session: SessionDep) -> None:
    """Turn your calendar feed off: its URL stops working at once (also when there was none)."""
    await CalendarFeeds(session, user.id).revoke()


@router.get(
    "/api/calendar/{secret}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "The feed (iCalendar)."},
        304: {"description": "Unchanged since the copy whose `ETag` was sent (`If-None-Match`)."},
        404: {"model": ErrorOut, "description": "No feed has this secret."},
        429: {"model": ErrorOut},
    },
)
async def calendar_feed(
    secret: str,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientAddress,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Your tasks with due dates as all-day events, for calendar apps (no sign-in: the
    secret in the URL is the credential). A done task's title starts with "✓ ".

    Calendar apps fetch a feed every few minutes to hours: each answer carries an `ETag`
    (the body's hash; the feed is the same bytes while the tasks are), and a fetch that
    sends it back in `If-None-Match` gets 304 and no body while nothing changed. `private`:
    no shared cache may keep a copy of what the secret opens."""
    await runtime.limits.calendar_feed(client)  # before the secret is looked at
    user_id = await feed_owner(session, secret)
    if user_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NO_FEED)
    body = await feed_calendar(session, user_id)
    tag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and _tags(if_none_match) & {tag, "*"}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={**headers, "Content-Disposition": 'inline; filename="taskpilot.ics"'},
    )


def _tags(if_none_match: str) -> set[str]:
    """The entity tags an `If-None-Match` header names (weak ones compare as strong: RFC
    9110 uses weak comparison for it); `*` names any."""
    return {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
