"""TaskPilot's self-hosted ChatKit server: the ChatKit protocol over the one turn engine.

`handle()` is what the HTTP route calls. It refuses what TaskPilot cannot serve before any
response starts (a 400/404/422 with a reason, never a 500 or a broken stream), then lets
`openai-chatkit`'s `ChatKitServer` do the protocol. Starting a turn is the server's, not the
store's (which only stores: `store.py`): a new user message is stored by preparing its turn
with the turn engine before ChatKit tells the client the message is in, so a client that
leaves right then loses nothing. `respond()` is the thin part: it runs the turn through the
turn engine exactly as the chat page and the JSON API do, and translates the turn's events
(`stream.py`). A turn that pauses for the person's approval ends its stream with an approval
card; the card's Confirm or Cancel (`action()`, `approvals.py`) resumes that turn, and the
rest of it streams back the same way. So history, tool calls, retries, approvals and failures
behave the same in both chat UIs, and the problems `openai-chatkit` 1.6 has with its own
Agents SDK helpers (tool calls neither streamed nor stored, `__fake_id__` item ids from
chat-completions models, assistant history items those models reject) do not arise: those
helpers are not used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    ChatKitReq,
    ErrorEvent,
    FeedbackKind,
    ItemsFeedbackReq,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)

from taskpilot.agent.engine import PreparedTurn, TurnEngine, clean_message
from taskpilot.agent.engine.approvals import decided
from taskpilot.agent.events import TurnDone, TurnError, TurnTitled
from taskpilot.api import sse
from taskpilot.chatkit import actions, approvals
from taskpilot.chatkit.context import RequestContext
from taskpilot.chatkit.items import USER, item_id, parse_item_id, user_text
from taskpilot.chatkit.requests import (
    RETRYABLE,
    UNSUPPORTED,
    ChatKitRequestError,
    parse_request,
    refusal,
)
from taskpilot.chatkit.store import MAX_PAGE, NO_ATTACHMENTS, ConversationThreadStore
from taskpilot.chatkit.stream import Resumed, TurnTranslator
from taskpilot.core.errors import SOMETHING_WENT_WRONG, ErrorCode, TaskPilotError
from taskpilot.data.models import NEW_CHAT_TITLE, Approval, Feedback, Message, Role, ToolCall
from taskpilot.services.conversations import InvalidTitle, MessageNotFound, title_from_message
from taskpilot.services.turns import MOVED_ON

logger = logging.getLogger("taskpilot.chatkit")

# The most items one request may name. Feedback names a reply's items (its workflow and its
# message): a handful. The cap is a page of items, so whatever ChatKit's UI shows at once can
# be rated at once, while a request naming thousands is a 400 instead of work. The other
# requests that name items name exactly one (`threads.retry_after_item`'s `item_id`,
# `items.list`'s `after`, a widget action's `item_id`: `load_item`). The store resolves a
# request's ids in one query.
MAX_NAMED_ITEMS = MAX_PAGE


def moved_on(history: list[Message]) -> int | None:
    """The question whose waiting call a new message declined as it was stored (its reply
    is the newest in the new turn's history, and says so): its id, else None."""
    reply = history[-1] if history else None
    if reply is None or reply.role != Role.ASSISTANT.value or reply.reply_to_id is None:
        return None
    calls = ToolCall.stored(reply.tool_calls)
    if any(call.approval is Approval.DECLINED and call.result == MOVED_ON for call in calls):
        return reply.reply_to_id
    return None


class TaskPilotChatKitServer(ChatKitServer[RequestContext]):
    """ChatKit threads on TaskPilot's conversations, answered by the agent service."""

    store: ConversationThreadStore

    def __init__(self, turns: TurnEngine, store: ConversationThreadStore) -> None:
        super().__init__(store)
        self.turns = turns

    async def handle(self, body: bytes, user_id: str) -> StreamingResult | NonStreamingResult:
        """Serve one ChatKit request for `user_id` (`ChatKitRequestError` when refused)."""
        request = parse_request(body)
        context = RequestContext(user_id)
        await self._admit(request, context)
        try:
            result = await self._process(request, context)
        except BaseException:
            if context.slot is not None:  # no stream will give it back
                await context.slot.release()
            raise
        if isinstance(result, StreamingResult):
            return StreamingResult(self._guarded(result, context))
        return result

    async def _process(
        self, request: ChatKitReq, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        try:
            return await self.process(request.model_dump_json(by_alias=True), context)
        except NotFoundError as exc:
            raise ChatKitRequestError(404, str(exc) or "Not found.") from exc
        except InvalidTitle as exc:
            raise ChatKitRequestError(400, str(exc)) from exc
        except actions.ActionError as exc:
            raise ChatKitRequestError(exc.status, exc.message) from exc

    async def _admit(self, request: ChatKitReq, context: RequestContext) -> None:
        """Refuse, before anything streams, what would otherwise fail mid-stream."""
        if request.type in UNSUPPORTED:
            raise ChatKitRequestError(
                400,
                f"TaskPilot's ChatKit server does not support {UNSUPPORTED[request.type]} "
                f"({request.type}).",
            )
        if isinstance(request, ItemsFeedbackReq):
            named = list(dict.fromkeys(request.params.item_ids))  # each once, in order
            if len(named) > MAX_NAMED_ITEMS:
                raise ChatKitRequestError(
                    400,
                    f"Feedback can name at most {MAX_NAMED_ITEMS} items at once; "
                    f"this request names {len(named)}.",
                )
            request.params.item_ids = named
        if isinstance(request, ThreadsSyncCustomActionReq):
            try:  # the library would answer a non-widget sender with a 500
                actions.check_sender(request.params.item_id)
                actions.parse_action(request.params.action)
            except actions.ActionError as exc:
                raise ChatKitRequestError(exc.status, exc.message) from exc
        if isinstance(request, ThreadsCustomActionReq):
            await self._admit_decision(request, context)
        if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
            message = request.params.input
            if message.attachments:
                raise ChatKitRequestError(400, NO_ATTACHMENTS)
            try:
                clean_message(user_text(message.content), self.turns.settings.max_message_chars)
            except TaskPilotError as exc:
                raise ChatKitRequestError.of(exc) from exc
        try:
            if isinstance(request, ThreadsAddUserMessageReq | ItemsFeedbackReq):
                await self.store.load_thread(request.params.thread_id, context)
            elif isinstance(request, ThreadsRetryAfterItemReq):
                stored = await self.store.find_user_message(
                    request.params.thread_id, request.params.item_id, context
                )
                # ChatKit may still know the message by the id it made for it while the
                # turn streamed; retry looks items up by the id they are listed under.
                assert stored.id is not None
                request.params.item_id = item_id(USER, stored.id)
        except NotFoundError as exc:
            raise ChatKitRequestError(404, str(exc)) from exc
        turn = isinstance(
            request,
            ThreadsCreateReq
            | ThreadsAddUserMessageReq
            | ThreadsRetryAfterItemReq
            | ThreadsCustomActionReq,  # a decision resumes a turn
        )
        if not turn:  # reads and edits: the person's request budget (turns have their own)
            try:
                await self.turns.limits.request(context.user_id)
            except TaskPilotError as exc:
                raise ChatKitRequestError.of(exc) from exc
        if turn:
            try:
                context.slot = await self.turns.admit(context.user_id)
            except TaskPilotError as exc:
                raise ChatKitRequestError.of(exc) from exc

    async def _admit_decision(
        self, request: ThreadsCustomActionReq, context: RequestContext
    ) -> None:
        """An approval card's Confirm or Cancel: a 400 for anything else and a 404 for a card
        that is not in the caller's thread, before the stream starts (inside it, the library
        would answer either with a bare stream error)."""
        try:
            actions.check_sender(request.params.item_id)
            decision = approvals.parse_decision(request.params.action)
            assert request.params.item_id is not None
            card = await self.store.load_item(
                request.params.thread_id, request.params.item_id, context
            )
            if not isinstance(card, WidgetItem):
                raise actions.ActionError(400, actions.NO_SENDER)
            approvals.check_card(card, decision)
        except actions.ActionError as exc:
            raise ChatKitRequestError(exc.status, exc.message) from exc
        except NotFoundError as exc:
            raise ChatKitRequestError(404, str(exc)) from exc

    async def _guarded(
        self, result: StreamingResult, context: RequestContext
    ) -> AsyncGenerator[bytes, None]:
        """The stream, ending in a ChatKit error event (not a cut connection) on failure; a
        new message's turn prepared but never run (the client left first) is marked stopped,
        not lost."""
        try:
            async for chunk in result:
                yield chunk
        except Exception as exc:
            if isinstance(exc, TaskPilotError):  # the database being down included
                message = exc.message
            else:  # openai-chatkit has logged it, with its traceback
                logger.error("chatkit stream failed", extra={"error": type(exc).__name__})
                message = SOMETHING_WENT_WRONG
            event = ErrorEvent(code="custom", message=message, allow_retry=True)
            yield sse.frame(event.model_dump_json(exclude_none=True)).encode()
        finally:
            if context.prepared is not None:
                turn, context.prepared = context.prepared, None
                await asyncio.shield(self.turns.abandon(turn))
            if context.slot is not None:  # the turn gave it back already, unless none ran
                await asyncio.shield(context.slot.release())

    # --- the turn -----------------------------------------------------------------------------

    async def _process_new_thread_item_respond(
        self, thread: ThreadMetadata, item: UserMessageItem, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """A new user message (`threads.create`, `threads.add_user_message`): store it by
        preparing its turn, then let ChatKit tell the client it is in and call `respond()`.
        A turn refused now (its conversation still answering another, the database down, ...)
        ends the stream with the reason instead; nothing was stored.

        Private in `openai-chatkit` (1.6.5): the library has no public hook between building
        a new message and telling the client it is in, and preparing the turn any later (in
        `respond()`) would let a client that leaves at that moment lose its message. Pinned
        by `test_the_library_still_hands_new_messages_to_the_hook_the_server_overrides`."""
        try:
            context.prepared = await self.turns.prepare(
                user_id=context.user_id,
                conversation_id=thread.id,
                text=user_text(item.content),
                # ChatKit's id for the message: a later request naming it finds the message.
                client_message_id=item.id,
                slot=context.slot,
            )
        except TaskPilotError as exc:
            yield refusal(exc)
            return
        declined = moved_on(context.prepared.history)
        if declined is not None:
            # This message declined the change an approval card was asking about: the card,
            # its workflow and the reply saying so, as a reload shows them.
            for done in await self.store.turn_items(thread.id, declined, context):
                yield ThreadItemDoneEvent(item=done)
        async for event in super()._process_new_thread_item_respond(thread, item, context):
            yield event

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Run the turn for this user message through the turn engine, streaming it."""
        if input_user_message is None:
            return  # only client tool outputs arrive without one, and they are refused
        # A new message's turn was prepared before the client was told the message is in; a
        # retried message's turn is prepared now.
        turn, context.prepared = context.prepared, None
        if turn is None:
            turn = await self._retry(thread, input_user_message, context)
        async for event in self._run(thread, turn, context):
            yield event

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """An approval card's Confirm or Cancel (`threads.custom_action`, checked by
        `_admit_decision`): the paused turn resumes with the decision, streaming the rest of
        it; a card that no longer asks is answered as it is now (`approvals.py`)."""
        decision = approvals.parse_decision(action)
        if sender is None or not approvals.offered(sender, decision):
            if sender is not None:  # read just now: as it is
                yield ThreadItemReplacedEvent(item=sender)
            return
        try:
            turn = await self.turns.prepare_decision(
                context.user_id,
                thread.id,
                decision.payload.call_id,
                decision.approve,
                slot=context.slot,
            )
        except TaskPilotError as exc:
            # Decided meanwhile (another tab pressed too), or refused for now.
            card = await self.store.load_item(thread.id, sender.id, context)
            yield ThreadItemReplacedEvent(item=card)
            if exc.code is not ErrorCode.APPROVAL_NOT_PENDING:
                yield refusal(exc)
            return
        async for event in self._run(thread, turn, context):
            yield event

    async def _run(
        self, thread: ThreadMetadata, turn: PreparedTurn, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Run a prepared turn through the turn engine, streaming it as ChatKit events."""
        context.prepared = None  # running now: the stream's end need not abandon it
        resumed = None
        if turn.decision is not None:
            call = decided(turn.decision.call, turn.decision.approve)
            resumed = Resumed(call, turn.decision.calls(), turn.decision.paused.reply)
        translator = TurnTranslator(
            thread.id, turn.message_id, earlier=len(turn.earlier_calls), resumed=resumed
        )
        running = self.turns.start(turn)
        answered = False
        try:
            async for event in running.events():
                if isinstance(event, TurnTitled):
                    # The title the turn engine chose and stored after the first reply:
                    # ChatKit tells the client (`thread.updated`) once the thread changed.
                    thread.title = event.title
                answered = answered or isinstance(event, TurnDone)
                first = not turn.history and thread.title in (None, NEW_CHAT_TITLE)
                if isinstance(event, TurnError) and first:
                    # A first turn that failed: named from its message, as the API and the
                    # page name a new conversation (an answered one is titled by the engine).
                    thread.title = title_from_message(turn.question)
                if turn.waiting:
                    continue  # a paused turn asked again: shown below, as a reload shows it
                numbers = translator.tasks_for(event)
                tasks = await self.store.tasks_now(numbers, context) if numbers else None
                for out in translator.translate(event, tasks):
                    yield out
            if turn.waiting:
                for item in await self.store.turn_items(thread.id, turn.message_id, context):
                    yield ThreadItemDoneEvent(item=item)
            for out in translator.finish():  # paused for an approval: its items end here
                yield out
        finally:
            # ChatKit's Stop closes the stream: the turn stops too (its question is kept);
            # once the reply is stored there is nothing to stop, and its title still comes.
            if not answered:
                running.stop()

    async def _retry(
        self, thread: ThreadMetadata, message: UserMessageItem, context: RequestContext
    ) -> PreparedTurn:
        """Get a stored message's turn ready to run again (`_admit` gave it our item id)."""
        ref = parse_item_id(message.id)
        try:
            if ref is None or ref.kind != USER:
                raise MessageNotFound()
            return await self.turns.prepare_retry(
                user_id=context.user_id,
                conversation_id=thread.id,
                message_id=ref.turn,
                slot=context.slot,
            )
        except MessageNotFound as exc:
            raise CustomStreamError(str(exc), allow_retry=False) from exc
        except TaskPilotError as exc:
            retry = exc.code in RETRYABLE
            raise CustomStreamError(exc.message, allow_retry=retry) from exc

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """Stop pressed (the stream was closed): the turn engine has already kept the
        user's message and marked the turn stopped; no partial reply is stored."""
        logger.info("chatkit turn stopped", extra={"conversation_id": thread.id})

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        """A task widget's button (`threads.sync_custom_action`): see `actions.py`."""
        return await actions.perform(self.turns.mcp, self.store, thread, action, sender, context)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        """Keep the person's thumbs up or down on the reply."""
        await self.store.rate_items(thread_id, item_ids, Feedback(feedback), context)
