"""What the page shows, as plain serialisable records built from the entities' public shapes.

State vars hold these (never ORM rows or clients), so Reflex can pickle them into Redis and
send them to the browser. Builders are pure functions, tested in `tests/web/`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from taskpilot.agent.tool_words import tool_arguments_in_words, tool_result_in_words
from taskpilot.data.models import Approval, ToolCall, TurnStatus
from taskpilot.services.public import ConversationOut, MessageOut, TaskOut
from taskpilot.services.repeats import repeat_in_words
from taskpilot.services.search import SearchHit
from taskpilot.services.turns import NOT_ANSWERED
from taskpilot.services.undo_marks import can_undo
from taskpilot.web.wording import due_in_words, history_group

# A tool card's states. `awaiting`: the call waits for the person's Approve or Cancel;
# `declined`: they cancelled it (or moved on), so it never ran.
RUNNING, DONE, ERROR, AWAITING, DECLINED = "running", "done", "error", "awaiting", "declined"
WAITING_FOR_APPROVAL = "Waiting for your approval"
NOT_DONE = "Declined · nothing changed"


@dataclasses.dataclass
class ToolCardView:
    """One tool call: which tool, its arguments in words, and how it went."""

    call_id: str = ""
    name: str = ""
    arguments: str = ""
    state: str = RUNNING  # running / done / error / awaiting / declined
    result: str = ""
    # A call that waits for the person: what approving it does ("Delete task 3 · Buy milk").
    summary: str = ""
    # The person's decision on a call that waited for it ("" for calls that never wait):
    # kept on the card while the resumed call runs, as its finish event does not say.
    approval: str = ""
    # Undo: the stored reply and the call's place in it (`message_id` 0: not stored yet, or
    # nothing to undo), whether it was undone, and why an Undo was refused.
    message_id: int = 0
    index: int = -1
    undone: bool = False
    undo_refused: str = ""


@dataclasses.dataclass
class MessageView:
    """One chat message. `created_at` is ISO 8601; the browser formats it in local time."""

    key: str = ""
    id: int = 0
    role: str = "user"
    content: str = ""
    created_at: str = ""
    tool_calls: list[ToolCardView] = dataclasses.field(default_factory=list)
    failed: bool = False
    error: str = ""
    client_message_id: str = ""
    # A question whose turn waits for the person's approval: its tool cards (one with Approve
    # and Cancel) and the reply begun before the pause show under it until they decide.
    awaiting: bool = False
    reply_so_far: str = ""
    # An edited question: which of its versions this is, of how many, and their ids (oldest
    # first). `replaced`: part of an earlier version's branch, shown read-only.
    version: int = 1
    versions: int = 1
    version_ids: list[int] = dataclasses.field(default_factory=list)
    replaced: bool = False


@dataclasses.dataclass
class ConversationView:
    """A conversation in the history sidebar; `group` heads a run of items ("Today")."""

    id: str = ""
    title: str = ""
    group: str = ""
    first_in_group: bool = False


@dataclasses.dataclass
class TextPartView:
    """A piece of shown text; `marked` pieces are words a search matched."""

    text: str = ""
    marked: bool = False


@dataclasses.dataclass
class SearchResultView:
    """A conversation found by "Search chats": its title and the snippet of its best
    matching message (none when only the title matched), matched words marked."""

    id: str = ""
    title: list[TextPartView] = dataclasses.field(default_factory=list)
    snippet: list[TextPartView] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TaskView:
    """A task in the task panel."""

    task_id: int = 0
    title: str = ""
    description: str = ""
    completed: bool = False
    priority: str = "medium"
    due_label: str = ""
    due_tone: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    repeat_label: str = ""  # "every Monday"; "" for a task that does not repeat
    due_date: str = ""  # ISO; a repeating task's completion says which date it completes


def tool_card_started(call_id: str, name: str, arguments: dict[str, Any] | None) -> ToolCardView:
    """A card for a tool call that is still running."""
    return ToolCardView(
        call_id=call_id, name=name, arguments=tool_arguments_in_words(name, arguments)
    )


def tool_card_finished(
    call_id: str,
    name: str,
    arguments: dict[str, Any] | None,
    result: object,
    is_error: bool,
    approval: str = "",
) -> ToolCardView:
    """A card for a tool call that returned (or failed, or was declined: its result is then
    what the model was told, not something a person needs to read)."""
    declined = approval == Approval.DECLINED
    return ToolCardView(
        call_id=call_id,
        name=name,
        arguments=tool_arguments_in_words(name, arguments),
        state=DECLINED if declined else ERROR if is_error else DONE,
        result=NOT_DONE if declined else tool_result_in_words(name, result, is_error),
        approval=approval,
    )


def tool_card_awaiting(call: ToolCall, summary: str) -> ToolCardView:
    """A card for a call that waits for the person's approval (it keeps its real call id:
    the decision names it)."""
    return ToolCardView(
        call_id=call.call_id,
        name=call.name,
        arguments=tool_arguments_in_words(call.name, call.arguments),
        state=AWAITING,
        result=WAITING_FOR_APPROVAL,
        summary=summary,
        approval=Approval.PENDING.value,
    )


def tool_card_decided(card: ToolCardView, approve: bool) -> ToolCardView:
    """A waiting card the person just decided: running again until its result comes."""
    decision = Approval.APPROVED if approve else Approval.DECLINED
    return dataclasses.replace(card, state=RUNNING, result="", approval=decision.value)


def finish_card(cards: list[ToolCardView], finished: ToolCardView) -> list[ToolCardView]:
    """The cards with `finished` replacing its running card (or added, if never started)."""
    if any(card.call_id == finished.call_id for card in cards):
        return [finished if card.call_id == finished.call_id else card for card in cards]
    return [*cards, finished]


def stored_tool_cards(
    tool_calls: list[ToolCall], summaries: Mapping[str, str] | None = None, message_id: int = 0
) -> list[ToolCardView]:
    """Cards for a stored message's tool calls; a call still waiting for approval says what
    approving does (`summaries`, by call id). A reply's (`message_id`) changes have Undo."""
    return [
        tool_card_awaiting(call, (summaries or {}).get(call.call_id, ""))
        if call.approval is Approval.PENDING
        else _undoable(
            tool_card_finished(
                f"stored-{index}",
                call.name or "tool",
                call.arguments,
                call.result,
                call.is_error,
                call.approval.value if call.approval else "",
            ),
            message_id,
            index,
            call,
        )
        for index, call in enumerate(tool_calls)
    ]


def _undoable(card: ToolCardView, message_id: int, index: int, call: ToolCall) -> ToolCardView:
    """The card with Undo (or "Undone") when the stored call made a change that can be."""
    if not message_id or not can_undo(call):
        return card
    return dataclasses.replace(card, message_id=message_id, index=index, undone=call.undone)


def cards_with_undo(
    cards: list[ToolCardView], message_id: int, tool_calls: list[ToolCall]
) -> list[ToolCardView]:
    """A finished turn's live cards once its reply is stored: each change gets its Undo
    (the stored call is found by its call id)."""
    place = {call.call_id: index for index, call in enumerate(tool_calls) if call.call_id}
    return [
        _undoable(card, message_id, place[card.call_id], tool_calls[place[card.call_id]])
        if card.call_id in place
        else card
        for card in cards
    ]


def card_undo(
    messages: list[MessageView], message_id: int, index: int, *, undone: bool, refused: str = ""
) -> list[MessageView]:
    """The messages with that card marked undone (or showing why its Undo was refused)."""
    return [
        dataclasses.replace(
            message,
            tool_calls=[
                dataclasses.replace(card, undone=undone, undo_refused=refused)
                if card.index == index
                else card
                for card in message.tool_calls
            ],
        )
        if message.id == message_id and message.role == "assistant"
        else message
        for message in messages
    ]


def message_view(
    message: MessageOut, summaries: Mapping[str, str] | None = None, reply_so_far: str = ""
) -> MessageView:
    """A stored message as the page shows it. A question awaiting approval brings what its
    paused turn had done and said (`summaries` of its waiting calls, `reply_so_far`)."""
    failed = message.role == "user" and message.status == TurnStatus.FAILED
    awaiting = message.role == "user" and message.status == TurnStatus.AWAITING
    return MessageView(
        key=f"m{message.id}",
        id=message.id,
        role=message.role,
        content=message.content,
        created_at=message.created_at,
        tool_calls=stored_tool_cards(
            message.tool_calls, summaries, message.id if message.role == "assistant" else 0
        ),
        failed=failed,
        error=(message.error or NOT_ANSWERED) if failed else "",
        client_message_id=message.client_message_id or "",
        awaiting=awaiting,
        reply_so_far=reply_so_far if awaiting else "",
        version=message.version,
        versions=message.versions,
        version_ids=list(message.version_ids),
    )


def awaiting_question(messages: list[MessageView], call_id: str) -> int | None:
    """Where the question whose paused turn waits for `call_id` is in `messages`, if shown."""
    for index, message in enumerate(messages):
        if message.awaiting and any(card.call_id == call_id for card in message.tool_calls):
            return index
    return None


def paused_question(question: MessageView, cards: list[ToolCardView], said: str) -> MessageView:
    """The question once its turn paused: the turn's cards and reply so far kept under it."""
    return dataclasses.replace(question, awaiting=True, tool_calls=list(cards), reply_so_far=said)


def resumed_question(question: MessageView) -> MessageView:
    """The question once a decision resumes its turn (the cards move to the live turn)."""
    return dataclasses.replace(question, awaiting=False, tool_calls=[], reply_so_far="")


def pending_user_message(text: str, client_message_id: str, now: datetime) -> MessageView:
    """The user's message as shown the moment it is sent, before the server numbers it."""
    return MessageView(
        key=f"c{client_message_id}",
        role="user",
        content=text,
        created_at=now.isoformat(),
        client_message_id=client_message_id,
    )


def numbered(messages: list[MessageView], message_id: int) -> list[MessageView]:
    """The person's message just sent, given the id it was stored with (an edit's new version
    joins its question's version ids then)."""
    last = len(messages) - 1
    if last < 0 or messages[last].role != "user" or messages[last].id:
        return messages
    sent = messages[last]
    ids = sent.version_ids
    if len(ids) < sent.versions:
        ids = [*ids, message_id]
    return [*messages[:last], dataclasses.replace(sent, id=message_id, version_ids=ids)]


def assistant_message(
    message_id: int, text: str, cards: list[ToolCardView], now: datetime
) -> MessageView:
    """The assistant's finished reply as it was streamed."""
    return MessageView(
        key=f"m{message_id}",
        id=message_id,
        role="assistant",
        content=text,
        created_at=now.isoformat(),
        tool_calls=list(cards),
    )


def failed_last_turn(messages: list[MessageView]) -> MessageView | None:
    """The last message when it is the user's and its turn failed: it can be retried."""
    if messages and messages[-1].role == "user" and messages[-1].failed:
        return messages[-1]
    return None


def conversation_views(
    conversations: list[ConversationOut], now: datetime
) -> list[ConversationView]:
    """Conversations (newest first) with their sidebar groups."""
    views: list[ConversationView] = []
    previous = None
    for conversation in conversations:
        group = history_group(datetime.fromisoformat(conversation.updated_at), now)
        views.append(
            ConversationView(
                id=conversation.id,
                title=conversation.title or "New chat",
                group=group,
                first_in_group=group != previous,
            )
        )
        previous = group
    return views


def regroup(views: list[ConversationView]) -> list[ConversationView]:
    """The list with each group's heading on its first item again (after a move or delete)."""
    regrouped: list[ConversationView] = []
    previous = None
    for view in views:
        regrouped.append(dataclasses.replace(view, first_in_group=view.group != previous))
        previous = view.group
    return regrouped


def bump_conversation(
    views: list[ConversationView], conversation_id: str, title: str
) -> list[ConversationView]:
    """The list with this conversation moved (or added) to the top, as active now."""
    rest = [view for view in views if view.id != conversation_id]
    top = ConversationView(id=conversation_id, title=title or "New chat", group="Today")
    return regroup([top, *rest])


def search_result_views(hits: list[SearchHit]) -> list[SearchResultView]:
    """Search hits as the sidebar lists them."""
    return [
        SearchResultView(
            id=hit.conversation.id,
            title=[TextPartView(part.text, part.marked) for part in hit.title],
            snippet=[TextPartView(part.text, part.marked) for part in hit.snippet],
        )
        for hit in hits
    ]


def task_view(task: TaskOut, today: date) -> TaskView:
    """A task as the panel shows it."""
    due = task.due_date
    label, tone = due_in_words(date.fromisoformat(due) if due else None, today)
    if task.completed:
        tone = "done" if label else ""
    return TaskView(
        task_id=task.task_id,
        title=task.title,
        description=task.description,
        completed=task.completed,
        priority=task.priority,
        due_label=label,
        due_tone=tone,
        tags=list(task.tags),
        repeat_label=repeat_in_words(task.repeat),
        due_date=task.due_date or "",
    )
