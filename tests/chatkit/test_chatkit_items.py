"""ChatKit item ids, and a turn's events as ChatKit stream events: the pure parts of the
ChatKit server, case by case (the HTTP tests run them end to end)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chatkit.types import ErrorEvent, UserMessageTagContent, UserMessageTextContent

from taskpilot.agent.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnStarted,
)
from taskpilot.chatkit.items import (
    ItemRef,
    failure_note,
    item_id,
    parse_item_id,
    tool_task,
    user_text,
    workflow_summary,
)
from taskpilot.chatkit.stream import TurnTranslator
from taskpilot.data.models import ToolCall

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "ref"),
    [
        ("msg_12", ItemRef("msg", 12)),
        ("tools_7", ItemRef("tools", 7)),
        ("tools_7_2", ItemRef("tools", 7, 2)),
        ("reply_1", ItemRef("reply", 1)),
        ("note_3", ItemRef("note", 3)),
        ("msg_0", None),
        ("msg_012", None),
        ("tools_7_1", None),  # the first workflow has no suffix
        ("msg_12345678a", None),
        ("ck_message_0123abcd", None),
        ("__fake_id__", None),
        ("", None),
        ("msg_1" + "0" * 30, None),
    ],
)
def test_item_ids_round_trip_and_nothing_else_parses(value: str, ref: ItemRef | None) -> None:
    assert parse_item_id(value) == ref
    if ref is not None:
        assert item_id(ref.kind, ref.turn, ref.part) == value


def test_the_text_of_a_user_message_includes_its_tags() -> None:
    content = [
        UserMessageTextContent(text="finish "),
        UserMessageTagContent(id="t1", text="task 3", data={}),
        UserMessageTextContent(text=" today"),
    ]
    assert user_text(content) == "finish task 3 today"


def test_tool_tasks_and_summaries_read_as_words() -> None:
    running = tool_task(ToolCall(name="add_task", arguments={"title": "Milk"}), running=True)
    assert (running.title, running.content, running.status_indicator) == (
        "Adding a task",
        "Milk",
        "loading",
    )
    unknown = tool_task(ToolCall(name="weather"), running=True)
    assert unknown.title == "Running weather" and unknown.content is None
    failed = tool_task(
        ToolCall(
            name="delete_task", arguments={"task_id": 9}, result="Task 9 not found.", is_error=True
        )
    )
    assert (failed.title, failed.icon) == ("Task 9 not found.", "info")
    done = tool_task(
        ToolCall(name="add_task", result={"task_id": 1, "status": "created", "title": "Milk"})
    )
    assert workflow_summary([done]).title == "Added task 1 · Milk"
    assert workflow_summary([done, failed]).title == "2 task actions"
    assert failure_note("  The model\ntook too long. ") == (
        "_The model took too long._ · Retry to run it again."
    )
    assert failure_note(None).startswith("_This message wasn't answered._")


def kinds(events: list[object]) -> list[str]:
    out = []
    for event in events:
        item = getattr(event, "item", None)
        name = getattr(item, "id", None) or getattr(event, "item_id", "")
        update = getattr(getattr(event, "update", None), "type", "")
        out.append(":".join(part for part in (event.type, update, name) if part))  # type: ignore[attr-defined]
    return out


def run(translator: TurnTranslator, *events: object) -> list[str]:
    out: list[object] = []
    for event in events:
        out += translator.translate(event)  # type: ignore[arg-type]
    return kinds(out)


def test_a_model_that_speaks_between_tool_calls_gets_a_workflow_per_run_of_tools() -> None:
    translator = TurnTranslator("t", 5, now=lambda: NOW)
    started = TurnStarted(conversation_id="t", title="x", user_message_id=5)
    assert translator.translate(started) == []
    assert run(
        translator,
        TextDelta(delta="Let me look. "),
        ToolStarted(call_id="a", name="list_tasks", arguments={}),
        ToolFinished(call_id="a", name="list_tasks", result={"count": 0, "tasks": []}),
        ToolFinished(call_id="zzz", name="list_tasks"),  # no such call: ignored
        TextDelta(delta="Nothing yet."),
        TurnDone(conversation_id="t", message_id=6, response="Let me look. \n\nNothing yet."),
    ) == [
        "thread.item.added:reply_5",
        "thread.item.updated:assistant_message.content_part.added:reply_5",
        "thread.item.updated:assistant_message.content_part.text_delta:reply_5",
        "thread.item.added:tools_5",
        "progress_update",
        "thread.item.updated:workflow.task.updated:tools_5",
        "thread.item.done:tools_5",
        "thread.item.updated:assistant_message.content_part.text_delta:reply_5",
        "thread.item.updated:assistant_message.content_part.done:reply_5",
        "thread.item.done:reply_5",
    ]
    again = TurnTranslator("t", 5, now=lambda: NOW)
    run(again, ToolStarted(call_id="a", name="list_tasks"), TextDelta(delta="x"))
    assert run(again, ToolStarted(call_id="b", name="add_task"))[0] == "thread.item.added:tools_5_2"


def test_several_calls_share_one_workflow_and_an_unanswered_call_stops_loading() -> None:
    translator = TurnTranslator("t", 2, now=lambda: NOW)
    events = [
        *translator.translate(ToolStarted(call_id="a", name="add_task", arguments={"title": "A"})),
        *translator.translate(ToolStarted(call_id="b", name="add_task", arguments={"title": "B"})),
        *translator.translate(
            ToolFinished(call_id="a", name="add_task", result={"task_id": 1, "status": "created"})
        ),
        *translator.translate(TurnError(code="model_error", message="The model failed.")),
    ]
    # Each call shows progress while it runs; the one that returned says tasks changed (its
    # result is not a task's whole shape, so it has no widget).
    assert kinds(events) == [
        "thread.item.added:tools_2",
        "progress_update",
        "thread.item.updated:workflow.task.added:tools_2",
        "progress_update",
        "thread.item.updated:workflow.task.updated:tools_2",
        "client_effect",
        "thread.item.done:tools_2",
        "error",
    ]
    workflow = events[6].item.workflow  # type: ignore[attr-defined]
    assert [task.status_indicator for task in workflow.tasks] == ["complete", "none"]
    assert workflow.summary.title == "2 task actions" and workflow.expanded is False
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.message == "The model failed."
    assert error.allow_retry


def test_a_failure_after_some_text_takes_the_half_reply_back() -> None:
    translator = TurnTranslator("t", 4, now=lambda: NOW)
    assert run(
        translator,
        TextDelta(delta="Working"),
        TurnError(code="model_error", message="The model failed."),
    )[-2:] == ["thread.item.removed:reply_4", "error"]


def test_a_replayed_answer_arrives_whole_and_an_empty_one_adds_nothing() -> None:
    replayed = TurnTranslator("t", 8, now=lambda: NOW)
    calls = [ToolCall(call_id="a", name="add_task")]
    done = TurnDone(conversation_id="t", message_id=9, response="Done.", tool_calls=calls)
    events = replayed.translate(done)
    assert kinds(events) == ["thread.item.done:reply_8"]
    assert events[0].item.content[0].text == "Done."  # type: ignore[union-attr]
    silent = TurnTranslator("t", 8, now=lambda: NOW)
    assert silent.translate(TurnDone(conversation_id="t", message_id=9, response="")) == []
