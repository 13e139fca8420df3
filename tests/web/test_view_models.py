"""How stored messages, tool calls, conversations and tasks become what the page shows."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from typing import Any

from taskpilot.data.models import Approval, ToolCall
from taskpilot.services.public import ConversationOut, MessageOut, TaskOut
from taskpilot.services.turns import MOVED_ON, NOT_ANSWERED
from taskpilot.web.view_models import (
    NOT_DONE,
    WAITING_FOR_APPROVAL,
    ConversationView,
    ToolCardView,
    assistant_message,
    awaiting_question,
    bump_conversation,
    conversation_views,
    failed_last_turn,
    finish_card,
    message_view,
    paused_question,
    pending_user_message,
    regroup,
    resumed_question,
    stored_tool_cards,
    task_view,
    tool_card_awaiting,
    tool_card_decided,
    tool_card_finished,
    tool_card_started,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def message(**fields: Any) -> MessageOut:
    base = {"conversation_id": "c", "tool_calls": [], "error": None, "client_message_id": None}
    return MessageOut.model_validate({**base, **fields})


def conversation(id: str, title: str, updated_at: datetime) -> ConversationOut:
    moment = updated_at.isoformat()
    return ConversationOut(id=id, title=title, created_at=moment, updated_at=moment)


def task(**fields: Any) -> TaskOut:
    times = {"created_at": None, "updated_at": None, "completed_at": None}
    return TaskOut.model_validate({**times, **fields})


def test_a_tool_card_goes_from_running_to_done_in_place() -> None:
    running = tool_card_started("c1", "add_task", {"title": "Buy milk", "priority": "high"})
    assert (running.state, running.arguments, running.result) == (
        "running",
        "Buy milk · high",
        "",
    )
    other = tool_card_started("c2", "list_tasks", {})
    done = tool_card_finished(
        "c1", "add_task", {"title": "Buy milk"}, {"task_id": 1, "status": "created"}, False
    )
    cards = finish_card([running, other], done)
    assert [card.call_id for card in cards] == ["c1", "c2"]
    assert (cards[0].state, cards[0].result) == ("done", "Added task 1")
    failed = tool_card_finished(
        "c3", "delete_task", {"task_id": 9}, "Error executing tool x: No.", True
    )
    assert finish_card(cards, failed)[-1] == ToolCardView(
        call_id="c3", name="delete_task", arguments="task 9", state="error", result="No."
    )


def test_stored_messages_replay_their_tool_calls_and_failures() -> None:
    stored = message(
        id=12,
        role="assistant",
        content="Added task 1.",
        tool_calls=[
            {
                "name": "add_task",
                "arguments": {"title": "Milk"},
                "result": {"task_id": 1, "status": "created"},
            },
            {
                "name": "complete_task",
                "arguments": {"task_id": 7},
                "result": "Error executing tool complete_task: gone",
                "is_error": True,
            },
        ],
        status="answered",
        created_at="2026-11-22T10:00:00+00:00",
    )
    view = message_view(stored)
    assert (view.key, view.id, view.role, view.failed) == ("m12", 12, "assistant", False)
    assert [(c.name, c.state, c.result) for c in view.tool_calls] == [
        ("add_task", "done", "Added task 1"),
        ("complete_task", "error", "gone"),
    ]
    failed = message_view(
        message(
            id=3,
            role="user",
            content="hi",
            status="failed",
            client_message_id="abc",
            created_at=NOW.isoformat(),
        )
    )
    assert (failed.failed, failed.error, failed.client_message_id) == (True, NOT_ANSWERED, "abc")
    assert failed_last_turn([view, failed]) is failed
    assert failed_last_turn([failed, view]) is None
    assert failed_last_turn([]) is None
    assert stored_tool_cards([]) == []


def test_a_call_that_waits_for_approval_keeps_its_id_and_says_what_approving_does() -> None:
    question = message(
        id=4,
        role="user",
        content="delete milk",
        status="awaiting",
        tool_calls=[
            {"call_id": "l1", "name": "list_tasks", "arguments": {}, "result": {"count": 1}},
            {
                "call_id": "d1",
                "name": "delete_task",
                "arguments": {"task_id": 3},
                "approval": "pending",
            },
        ],
        created_at=NOW.isoformat(),
    )
    view = message_view(question, {"d1": "Delete task 3 · Buy milk"}, "Let me check.")
    assert view.awaiting and not view.failed and view.reply_so_far == "Let me check."
    listed, waiting = view.tool_calls
    assert (listed.call_id, listed.state, listed.approval) == ("stored-0", "done", "")
    assert waiting == ToolCardView(
        call_id="d1",
        name="delete_task",
        arguments="task 3",
        state="awaiting",
        result=WAITING_FOR_APPROVAL,
        summary="Delete task 3 · Buy milk",
        approval="pending",
    )
    assert awaiting_question([view], "d1") == 0 and awaiting_question([view], "x") is None
    # Once decided, the question carries nothing and the live turn takes the cards over.
    assert awaiting_question([resumed_question(view)], "d1") is None
    running = tool_card_decided(waiting, approve=False)
    assert (running.state, running.result, running.approval) == ("running", "", "declined")
    # Only a question pauses; an answered one with the same calls is not waiting.
    assert not message_view(question.model_copy(update={"status": "answered"})).awaiting
    parked = paused_question(pending_user_message("x", "c", NOW), [waiting], "so far")
    assert parked.awaiting and parked.tool_calls == [waiting] and parked.reply_so_far == "so far"


def test_decided_calls_read_deleted_or_declined_without_buttons() -> None:
    deleted = {"task_id": 3, "status": "deleted", "title": "Buy milk"}
    cards = stored_tool_cards(
        [
            ToolCall(
                call_id="a",
                name="delete_task",
                arguments={"task_id": 3},
                result=deleted,
                approval=Approval.APPROVED,
            ),
            ToolCall(
                call_id="b",
                name="delete_task",
                arguments={"task_id": 4},
                result="The person declined this",
                approval=Approval.DECLINED,
            ),
            ToolCall(
                call_id="c",
                name="delete_task",
                arguments={"task_id": 5},
                result=MOVED_ON,
                approval=Approval.DECLINED,
            ),
        ]
    )
    assert [(c.state, c.result) for c in cards] == [
        ("done", "Deleted task 3 · Buy milk"),
        ("declined", NOT_DONE),
        ("declined", NOT_DONE),
    ]
    # The live card of a declined call finishes declined though its event does not say so.
    asked = tool_card_awaiting(ToolCall(call_id="d", name="delete_task"), "Delete task 9")
    finished = tool_card_finished("d", "delete_task", {}, "declined", False, "declined")
    assert finish_card([tool_card_decided(asked, False)], finished)[0].state == "declined"


def test_views_built_while_a_turn_streams() -> None:
    mine = pending_user_message("add milk", "cid", NOW)
    assert (mine.key, mine.role, mine.client_message_id) == ("ccid", "user", "cid")
    cards = [tool_card_started("c", "list_tasks", {})]
    reply = assistant_message(5, "Done.", cards, NOW)
    assert (reply.key, reply.role, reply.tool_calls) == ("m5", "assistant", cards)
    assert reply.tool_calls is not cards  # a copy: later edits to the live cards don't leak
    # State vars are pickled into Redis across workers.
    assert pickle.loads(pickle.dumps([mine, reply])) == [mine, reply]  # noqa: S301


def test_conversations_are_grouped_and_bumped_to_the_top() -> None:
    rows = [
        conversation("a", "Today one", NOW - timedelta(hours=1)),
        conversation("b", "", NOW - timedelta(hours=2)),
        conversation("c", "Old", NOW - timedelta(days=3)),
    ]
    views = conversation_views(rows, NOW)
    assert [(v.id, v.title, v.group, v.first_in_group) for v in views] == [
        ("a", "Today one", "Today", True),
        ("b", "New chat", "Today", False),
        ("c", "Old", "Previous 7 days", True),
    ]
    bumped = bump_conversation(views, "c", "Old")
    assert [(v.id, v.group, v.first_in_group) for v in bumped] == [
        ("c", "Today", True),
        ("a", "Today", False),
        ("b", "Today", False),
    ]
    added = bump_conversation(views, "new", "")
    assert (added[0].id, added[0].title, added[1].first_in_group) == ("new", "New chat", False)
    survivors = regroup([v for v in views if v.id != "a"])
    assert survivors[0] == ConversationView("b", "New chat", "Today", True)


def test_tasks_show_their_badges() -> None:
    taxes = task(
        task_id=2,
        title="File taxes",
        description="",
        completed=False,
        priority="high",
        due_date="2026-11-20",
        tags=["home"],
    )
    view = task_view(taxes, date(2026, 11, 22))
    assert (view.task_id, view.priority, view.due_label, view.due_tone, view.tags) == (
        2,
        "high",
        "Overdue · Nov 20",
        "overdue",
        ["home"],
    )
    finished = taxes.model_copy(update={"completed": True, "priority": "medium"})
    done = task_view(finished, date(2026, 11, 22))
    assert (done.completed, done.due_tone, done.priority) == (True, "done", "medium")
    undated = task_view(finished.model_copy(update={"due_date": None}), date(2026, 11, 22))
    assert (undated.due_label, undated.due_tone) == ("", "")
    assert view.repeat_label == ""
    ferns = taxes.model_copy(update={"repeat": "FREQ=WEEKLY;BYDAY=MO"})
    assert task_view(ferns, date(2026, 11, 22)).repeat_label == "every Monday"
