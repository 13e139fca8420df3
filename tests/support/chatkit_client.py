"""A test client for TaskPilot's ChatKit endpoint that speaks in `openai-chatkit`'s own types.

Requests are built with the package's request models (`ThreadsCreateReq`, …) and sent as the
ChatKit web component sends them; streamed answers are parsed back into its event models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from chatkit.actions import Action
from chatkit.types import (
    InferenceOptions,
    ItemFeedbackParams,
    ItemsFeedbackReq,
    ItemsListParams,
    ItemsListReq,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadCustomActionParams,
    ThreadDeleteParams,
    ThreadGetByIdParams,
    ThreadListParams,
    ThreadRetryAfterItemParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    ThreadUpdateParams,
    UserMessageInput,
    UserMessageTextContent,
)
from pydantic import BaseModel, TypeAdapter

from taskpilot.api import sse

CHATKIT = "/api/chatkit"
_events: TypeAdapter[ThreadStreamEvent] = TypeAdapter(ThreadStreamEvent)


def user_input(text: str) -> UserMessageInput:
    """What the composer sends for `text`."""
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        inference_options=InferenceOptions(),
    )


def action(
    thread_id: str, item_id: str | None, kind: str, payload: Any
) -> ThreadsSyncCustomActionReq:
    """`threads.sync_custom_action` as ChatKit sends it for a task widget's button."""
    return ThreadsSyncCustomActionReq(params=_action_params(thread_id, item_id, kind, payload))


def decide(thread_id: str, item_id: str | None, kind: str, payload: Any) -> ThreadsCustomActionReq:
    """`threads.custom_action` as ChatKit sends it for an approval card's Confirm or Cancel
    (answered by a stream: the paused turn resumes)."""
    return ThreadsCustomActionReq(params=_action_params(thread_id, item_id, kind, payload))


def _action_params(
    thread_id: str, item_id: str | None, kind: str, payload: Any
) -> ThreadCustomActionParams:
    return ThreadCustomActionParams(
        thread_id=thread_id, item_id=item_id, action=Action(type=kind, payload=payload)
    )


def parse_events(body: str) -> list[ThreadStreamEvent]:
    """A ChatKit SSE body (`data: {event}` blocks) as events."""
    return [_events.validate_json(event.data) for event in sse.parse_events(body)]


@dataclass
class ChatKitClient:
    """One signed-in person talking to `/api/chatkit`."""

    http: httpx.AsyncClient
    headers: dict[str, str]

    async def send(self, request: BaseModel | dict[str, Any] | bytes) -> httpx.Response:
        """POST one request, as JSON; the raw response."""
        if isinstance(request, bytes):
            content = request
        elif isinstance(request, BaseModel):
            content = request.model_dump_json(by_alias=True).encode()
        else:
            import json

            content = json.dumps(request).encode()
        return await self.http.post(
            CHATKIT,
            content=content,
            headers={**self.headers, "Content-Type": "application/json"},
        )

    async def ok(self, request: BaseModel) -> Any:
        """A non-streaming request that must succeed; its JSON."""
        response = await self.send(request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    async def stream(self, request: BaseModel) -> list[ThreadStreamEvent]:
        """A streaming request that must be accepted; its events."""
        response = await self.send(request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_events(response.text)

    # the requests ChatKit's UI sends
    async def create(self, text: str) -> list[ThreadStreamEvent]:
        return await self.stream(
            ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text)))
        )

    async def add(self, thread_id: str, text: str) -> list[ThreadStreamEvent]:
        params = ThreadAddUserMessageParams(thread_id=thread_id, input=user_input(text))
        return await self.stream(ThreadsAddUserMessageReq(params=params))

    async def retry(self, thread_id: str, item_id: str) -> list[ThreadStreamEvent]:
        params = ThreadRetryAfterItemParams(thread_id=thread_id, item_id=item_id)
        return await self.stream(ThreadsRetryAfterItemReq(params=params))

    async def threads(self, **params: Any) -> Any:
        return await self.ok(ThreadsListReq(params=ThreadListParams(**params)))

    async def thread(self, thread_id: str) -> Any:
        return await self.ok(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id)))

    async def items(self, thread_id: str, **params: Any) -> Any:
        return await self.ok(ItemsListReq(params=ItemsListParams(thread_id=thread_id, **params)))

    async def rename(self, thread_id: str, title: str) -> Any:
        return await self.ok(
            ThreadsUpdateReq(params=ThreadUpdateParams(thread_id=thread_id, title=title))
        )

    async def delete(self, thread_id: str) -> Any:
        return await self.ok(ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=thread_id)))

    async def feedback(self, thread_id: str, item_ids: list[str], kind: str) -> Any:
        params = ItemFeedbackParams(thread_id=thread_id, item_ids=item_ids, kind=kind)  # type: ignore[arg-type]
        return await self.ok(ItemsFeedbackReq(params=params))


# A signed-in person as the ChatKit tests hold one: their client and their sign-up (`id`,
# `headers`); `tests/chatkit/conftest.py` makes Ada and Bob.
Person = tuple[ChatKitClient, dict[str, Any]]


def thread_id_of(events: list[ThreadStreamEvent]) -> str:
    """The id of the thread a `threads.create` stream created."""
    created = [event for event in events if event.type == "thread.created"]
    assert len(created) == 1, [event.type for event in events]
    return created[0].thread.id  # type: ignore[union-attr]


def event_summary(events: list[ThreadStreamEvent]) -> list[str]:
    """Each event as `type` or `type:item-type:id`, to compare streams at a glance."""
    out = []
    for event in events:
        item = getattr(event, "item", None)
        if item is not None:
            out.append(f"{event.type}:{item.type}:{item.id}")
        elif event.type == "thread.item.updated":
            out.append(f"{event.type}:{event.update.type}:{event.item_id}")  # type: ignore[union-attr]
        else:
            out.append(event.type)
    return out


def item_ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


async def first_turn(ck: ChatKitClient, thread_id: str) -> int:
    """The id of the thread's first user message: its items are named after it (`msg_<n>`)."""
    first = item_ids(await ck.items(thread_id, order="asc", limit=1))[0]
    assert first.startswith("msg_")
    return int(first.removeprefix("msg_"))


def texts(page: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, text) per item: the user's or assistant's text, a workflow's task titles, a
    widget's status line."""
    out = []
    for item in page["data"]:
        if item["type"] == "workflow":
            text = " | ".join(task.get("title", "") for task in item["workflow"]["tasks"])
        elif item["type"] == "widget":
            text = item["widget"].get("status", {}).get("text", "")
        else:
            text = "".join(part["text"] for part in item["content"])
        out.append((item["type"], text))
    return out
