"""Search a user's conversations by the words of their titles and messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from taskpilot.api.deps import CountedRequest, PathUser, SessionDep
from taskpilot.api.schemas import ErrorOut, SearchResults
from taskpilot.services.search import MAX_QUERY_CHARS, MAX_RESULTS, ConversationSearch

router = APIRouter(
    prefix="/api/{user_id}/search", tags=["conversations"], dependencies=[CountedRequest]
)


@router.get(
    "",
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def search_conversations(
    user: PathUser,
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="Words to find, each as the start of a word, all in the title or in "
            "one message. Read as plain words: quotes, `*`, `-`, `OR` are not operators. "
            "No words (none given, or only punctuation): no results.",
            examples=["water fern"],
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
) -> SearchResults:
    """Your conversations that match, title matches first, then most recently active first;
    each with a snippet of its best matching message."""
    hits = await ConversationSearch(session, user.id).search(q, limit)
    return SearchResults(results=hits)
