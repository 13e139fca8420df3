"""The offline model: its command parser, and whole turns through the real Agents SDK Runner.

The Runner tests give the model real `FunctionTool`s named like the MCP tools, backed by a
small in-test task list, so each turn really calls a tool, feeds its output back and ends
with a reply. (The same model against the real MCP server is tested elsewhere.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pytest
from agents import Agent, FunctionTool, RunConfig, Runner, ToolOutputText, function_tool
from agents.items import TResponseInputItem
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseInputText,
    ResponseTextDeltaEvent,
)
from openai.types.responses.response_input_item import FunctionCallOutput, Message

from taskpilot.agent.offline import (
    Command,
    Intent,
    OfflineModel,
    Reply,
    ToolRequest,
    next_step,
    parse_command,
)
from taskpilot.core.config import Settings
from taskpilot.mcp.tools import canonical_name

TODAY = date(2026, 11, 22)  # a Sunday


def command(
    intent: Intent, task_id: int | None = None, target: str | None = None, **arguments: Any
) -> Command:
    """The `Command` the parser should produce."""
    return Command(intent, task_id=task_id, target=target, arguments=arguments)


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------

ADD, LIST, UPDATE = Intent.ADD, Intent.LIST, Intent.UPDATE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Add a task to buy groceries", command(ADD, title="Buy groceries")),
        (
            "add buy milk tomorrow, high priority",
            command(ADD, title="Buy milk", priority="high", due_date="2026-11-23"),
        ),
        (
            "add call the dentist friday, high priority",
            command(ADD, title="Call the dentist", priority="high", due_date="2026-11-27"),
        ),
        ("Remind me to water the plants", command(ADD, title="Water the plants")),
        ("I need to remember to pay bills", command(ADD, title="Pay bills")),
        ("create task Write report", command(ADD, title="Write report")),
        ("new task: review the PR", command(ADD, title="Review the PR")),
        ("Remind me to pay rent on dec 5", command(ADD, title="Pay rent", due_date="2026-12-05")),
        ("add submit taxes in 3 days", command(ADD, title="Submit taxes", due_date="2026-11-25")),
        (
            "add renew passport 2027-01-15",
            command(ADD, title="Renew passport", due_date="2027-01-15"),
        ),
        (
            "add plan the party next week",
            command(ADD, title="Plan the party", due_date="2026-11-23"),
        ),
        ("add call mom today", command(ADD, title="Call mom", due_date="2026-11-22")),
        ("add fix the bike, urgent", command(ADD, title="Fix the bike", priority="high")),
        ("add important: file the report", command(ADD, title="File the report", priority="high")),
        ("add tidy the shed, low priority", command(ADD, title="Tidy the shed", priority="low")),
        ("add email Sam #work", command(ADD, title="Email Sam", tags=["work"])),
        ("add email Sam tagged work", command(ADD, title="Email Sam", tags=["work"])),
        (
            "add a task to buy groceries tag: home",
            command(ADD, title="Buy groceries", tags=["home"]),
        ),
        (
            "Please can you add water plants this weekend, low priority #home thanks!",
            command(
                ADD, title="Water plants", priority="low", due_date="2026-11-28", tags=["home"]
            ),
        ),
        ("add buy milk to my list", command(ADD, title="Buy milk")),
        ("put buy stamps on my list", command(ADD, title="Buy stamps")),
        (
            "todo: renew passport by 2026-12-15",
            command(ADD, title="Renew passport", due_date="2026-12-15"),
        ),
        (
            "don't forget to call grandma on sunday",
            command(ADD, title="Call grandma", due_date="2026-11-29"),
        ),
        ("I need to finish the report", command(ADD, title="Finish the report")),
        ("add turn the heating on", command(ADD, title="Turn the heating on")),
        (
            "add 'Plan next week' for monday",
            command(ADD, title="Plan next week", due_date="2026-11-23"),
        ),
        # A date word inside a title stays in the title; one at the end is the due date.
        ("add plan friday drinks", command(ADD, title="Plan friday drinks")),
        ("add meeting on monday at 10", command(ADD, title="Meeting at 10", due_date="2026-11-23")),
        (
            "add call the bank friday (notes: ask about fees)",
            command(
                ADD, title="Call the bank", due_date="2026-11-27", description="ask about fees"
            ),
        ),
        (
            "ok, add buy milk",  # "ok" only leads in
            command(ADD, title="Buy milk"),
        ),
    ],
)
def test_add_commands(text: str, expected: Command) -> None:
    assert parse_command(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ("Show me all my tasks", {"status": "all"}),
        ("list my tasks", {"status": "all"}),
        ("what's on my list", {"status": "all"}),
        ("What’s pending?", {"status": "pending"}),
        ("what's still open?", {"status": "pending"}),
        ("what do I have left", {"status": "pending"}),
        ("What have I completed?", {"status": "completed"}),
        ("show done tasks", {"status": "completed"}),
        ("show high priority tasks", {"status": "all", "priority": "high"}),
        ("tasks tagged work", {"status": "all", "tag": "work"}),
        ("show #home tasks", {"status": "all", "tag": "home"}),
        ("find the meeting task", {"status": "all", "search": "meeting"}),
        ("I want to see my tasks", {"status": "all"}),
        ("my to do list", {"status": "all"}),
        ("show my tasks sorted by priority", {"status": "all", "sort": "priority"}),
        (
            "what's due today",
            {"status": "pending", "due_before": "2026-11-22", "sort": "due"},
        ),
        (
            "what's due tomorrow?",
            {"status": "pending", "due_before": "2026-11-23", "sort": "due"},
        ),
        (
            # On a Sunday, "this week" is the week ahead.
            "what's due this week",
            {"status": "pending", "due_before": "2026-11-29", "sort": "due"},
        ),
        (
            "any tasks due friday?",
            {"status": "pending", "due_before": "2026-11-27", "sort": "due"},
        ),
        (
            "what's overdue",
            {"status": "pending", "due_before": "2026-11-21", "sort": "due"},
        ),
        (
            "show upcoming tasks",
            {"status": "pending", "due_before": "2026-11-29", "sort": "due"},
        ),
        (
            "what's due next week",
            {
                "status": "pending",
                "due_after": "2026-11-23",
                "due_before": "2026-11-29",
                "sort": "due",
            },
        ),
        (
            "what's due this month",
            {"status": "pending", "due_before": "2026-11-30", "sort": "due"},
        ),
        (
            # The whole of December, not everything up to its first day.
            "what's due next month",
            {
                "status": "pending",
                "due_after": "2026-12-01",
                "due_before": "2026-12-31",
                "sort": "due",
            },
        ),
        (
            # The filters are inclusive, so "before"/"after" friday leave friday out.
            "what's due before friday",
            {"status": "pending", "due_before": "2026-11-26", "sort": "due"},
        ),
        (
            "show tasks due after friday",
            {"status": "pending", "due_after": "2026-11-28", "sort": "due"},
        ),
        (
            "show tasks due from friday",
            {"status": "pending", "due_after": "2026-11-27", "sort": "due"},
        ),
        # A task number is not text to search titles for.
        ("find task 3", {"status": "all"}),
        # A one-word filter is a list request too.
        ("pending?", {"status": "pending"}),
        ("Overdue", {"status": "pending", "due_before": "2026-11-21", "sort": "due"}),
    ],
)
def test_list_commands(text: str, arguments: dict[str, Any]) -> None:
    assert parse_command(text, TODAY) == command(LIST, **arguments)


def test_month_ranges_cross_the_year() -> None:
    arguments = parse_command("what's due next month", date(2026, 12, 15)).arguments
    assert (arguments["due_after"], arguments["due_before"]) == ("2027-01-01", "2027-01-31")
    arguments = parse_command("what's due this month", date(2028, 2, 3)).arguments
    assert arguments["due_before"] == "2028-02-29"


def test_this_week_runs_to_sunday_midweek() -> None:
    wednesday = date(2026, 11, 25)
    assert parse_command("what's due this week", wednesday).arguments["due_before"] == (
        "2026-11-29"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mark task 3 as complete", command(Intent.COMPLETE, 3)),
        ("complete task 3", command(Intent.COMPLETE, 3)),
        ("I finished task 3", command(Intent.COMPLETE, 3)),
        ("done with 3", command(Intent.COMPLETE, 3)),
        ("task 3 is done!", command(Intent.COMPLETE, 3)),
        ("please complete task #3", command(Intent.COMPLETE, 3)),
        ("complete task three", command(Intent.COMPLETE, 3)),
        ("complete the groceries task", command(Intent.COMPLETE, target="groceries")),
        ("mark buy milk as done", command(Intent.COMPLETE, target="buy milk")),
        ("I'm done with the report", command(Intent.COMPLETE, target="report")),
        ("reopen task 3", command(Intent.REOPEN, 3, completed=False)),
        ("mark task 3 as not done", command(Intent.REOPEN, 3, completed=False)),
        ("Delete task 2", command(Intent.DELETE, 2)),
        ("remove task 2", command(Intent.DELETE, 2)),
        ("Can you delete task 2 please?", command(Intent.DELETE, 2)),
        ("Delete the meeting task", command(Intent.DELETE, target="meeting")),
        ("remove buy milk from my list", command(Intent.DELETE, target="buy milk")),
        ("I need to delete task 3", command(Intent.DELETE, 3)),
        ("check off task 3", command(Intent.COMPLETE, 3)),
    ],
)
def test_task_actions(text: str, expected: Command) -> None:
    assert parse_command(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Change task 1 to 'Call mom tonight'", command(UPDATE, 1, title="Call mom tonight")),
        ('rename task 1 to "Call mom tonight"', command(UPDATE, 1, title="Call mom tonight")),
        ("rename task 1 to call mom", command(UPDATE, 1, title="Call mom")),
        ("change task 1 to call mom", command(UPDATE, 1, title="Call mom")),
        ("update task 1 title to Call mom tonight", command(UPDATE, 1, title="Call mom tonight")),
        ("set task 2 priority to high", command(UPDATE, 2, priority="high")),
        ("set the priority of task 4 to low", command(UPDATE, 4, priority="low")),
        ("make task 2 high priority", command(UPDATE, 2, priority="high")),
        ("change task 2 to high priority", command(UPDATE, 2, priority="high")),
        ("move task 2 to friday", command(UPDATE, 2, due_date="2026-11-27")),
        ("task 2 is due tomorrow", command(UPDATE, 2, due_date="2026-11-23")),
        ("change task 3's due date to next friday", command(UPDATE, 3, due_date="2026-11-27")),
        ("remove the due date from task 2", command(UPDATE, 2, due_date="none")),
        ("tag task 2 with work", command(UPDATE, 2, tags=["work"])),
        ("tag task 2 with work and errands", command(UPDATE, 2, tags=["work", "errands"])),
        ("remove the tags from task 2", command(UPDATE, 2, tags=[])),
        (
            "update task 2: high priority, due friday",
            command(UPDATE, 2, priority="high", due_date="2026-11-27"),
        ),
        (
            "rename the meeting task to Team sync",
            command(UPDATE, target="meeting", title="Team sync"),
        ),
        (
            "move the dentist task to next week",
            command(UPDATE, target="dentist", due_date="2026-11-23"),
        ),
        ("set task 2 priority to 'high'", command(UPDATE, 2, priority="high")),
        ("prioritize task 3", command(UPDATE, 3, priority="high")),
        ("prioritise the report", command(UPDATE, target="report", priority="high")),
        ("set the due date of task 2 to none", command(UPDATE, 2, due_date="none")),
        ("change task 2's deadline to never", command(UPDATE, 2, due_date="none")),
        (
            "set the description of task 2 to call the bank first",
            command(UPDATE, 2, description="call the bank first"),
        ),
        ("set task 2 notes to bring cake", command(UPDATE, 2, description="bring cake")),
        # Repeated tags count once, whatever their case.
        ("tag task 2 with work, Work and home", command(UPDATE, 2, tags=["work", "home"])),
        ("set task 2 tags to #work #home", command(UPDATE, 2, tags=["work", "home"])),
    ],
)
def test_update_commands(text: str, expected: Command) -> None:
    assert parse_command(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hi", Intent.GREETING),
        ("Hello there!", Intent.GREETING),
        ("help", Intent.HELP),
        ("what can you do?", Intent.HELP),
        ("", Intent.HELP),
        ("thanks!", Intent.THANKS),
        ("ok", Intent.THANKS),
        ("Okay!", Intent.THANKS),
        ("cancel that", Intent.DISMISS),
        ("never mind", Intent.DISMISS),
        ("the first one", Intent.CHOOSE),
        ("put the bins out tonight", Intent.UNKNOWN),
        ("clear completed tasks", Intent.CLARIFY),
        ("remove tag work from task 2", Intent.CLARIFY),
        ("what's the weather like?", Intent.UNKNOWN),
        ("tell me a joke", Intent.UNKNOWN),
        ("2", Intent.CHOOSE),
        ("add pay rent 2026-02-30", Intent.CLARIFY),
        ("add", Intent.CLARIFY),
        ("delete all tasks", Intent.CLARIFY),
        ("set task 2 priority to extreme", Intent.CLARIFY),
    ],
)
def test_other_messages(text: str, intent: Intent) -> None:
    assert parse_command(text, TODAY).intent is intent


@pytest.mark.parametrize(("text", "number"), [("task five", 5), ("number two", 2), ("#3", 3)])
def test_an_answer_naming_a_task_number_in_words(text: str, number: int) -> None:
    # A number said as a word once crashed the parser (the digit group was read alone).
    command = parse_command(text, TODAY)
    assert (command.intent, command.task_id) == (Intent.CHOOSE, number)


def test_a_bad_date_says_why() -> None:
    parsed = parse_command("add pay rent 2026-02-30", TODAY)
    assert parsed.message is not None and "not a real calendar date" in parsed.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "change task 2 to 2026-02-30",
            "I couldn't update that: '2026-02-30' is not a real calendar date.",
        ),
        ("set task 2 due date to feb 30", "I couldn't update that: 'feb 30' is not a real"),
        ("move task 2 to the garage", "I couldn't update that: I can't read 'the garage' as a"),
        ('rename task 2 to ""', "I couldn't update that: The new title is empty."),
        ("set task 2 priority to extreme", "I couldn't update that: Priorities are low, medium"),
        ("tag task 2 with #", "I couldn't update that: No tags given."),
        (
            "show tasks due 2026-02-30",
            "I couldn't filter by that date: '2026-02-30' is not a real calendar date.",
        ),
        # An edit that names no task, or no change, is not a request to list everything.
        ("update task 2: call mom", "I couldn't tell which task to change, or how."),
        ("change task 2 priority", "I couldn't tell which task to change, or how."),
        ("I need to update the meeting task", "I couldn't tell which task to change, or how."),
        ("delete all my tasks", "I can change one task at a time."),
        ("remove tag work from task 2", "I can't remove one tag on its own."),
    ],
)
def test_clarifications_say_what_is_wrong(text: str, message: str) -> None:
    parsed = parse_command(text, TODAY)
    assert parsed.intent is Intent.CLARIFY
    assert parsed.message is not None and parsed.message.startswith(message)
    # The reply is that message, and no tool is called.
    assert next_step(text, TODAY) == Reply(parsed.message)


_PHRASES = (
    "add",
    "remind me to",
    "delete",
    "complete",
    "mark",
    "as done",
    "rename",
    "change",
    "move",
    "to",
    "task 3",
    "the meeting",
    "friday",
    "tomorrow",
    "next week",
    "in 3 days",
    "on dec 5",
    "2026-02-30",
    "2026-12-01",
    "high priority",
    "low",
    "#work",
    "tagged home",
    "tag:",
    "what's pending",
    "show",
    "list",
    "please",
    "can you",
    "i need to",
    "it",
    "first",
    ",",
    ":",
    "'",
    '"',
    "todo:",
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PHRASES), max_size=10), st.dates())
def test_parse_command_is_total(phrases: list[str], today: date) -> None:
    parsed = parse_command(" ".join(phrases), today)
    if parsed.intent is Intent.ADD:
        assert parsed.arguments["title"].strip()
    if "due_date" in parsed.arguments and parsed.arguments["due_date"] != "none":
        date.fromisoformat(parsed.arguments["due_date"])
    if parsed.intent in (Intent.COMPLETE, Intent.DELETE, Intent.UPDATE, Intent.REOPEN):
        # A task by number or by words; "delete it" names neither: it is the one just talked of.
        assert (parsed.task_id is None) != (parsed.target is None) or parsed.refers_back


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_command_never_raises(text: str) -> None:
    assert isinstance(parse_command(text, TODAY), Command)


def test_canonical_tool_name_ignores_a_client_prefix() -> None:
    assert canonical_name("taskpilot_add_task") == "add_task"
    assert canonical_name("list_tasks") == "list_tasks"
    assert canonical_name("something_else") == "something_else"


# --------------------------------------------------------------------------------------------
# Deciding the next step from the Runner's input (no Runner)
# --------------------------------------------------------------------------------------------


def call_items(name: str, arguments: dict[str, Any], output: Any, call_id: str = "c1") -> list[Any]:
    return [
        {
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
        },
        {"type": "function_call_output", "call_id": call_id, "output": output},
    ]


def test_first_step_is_the_tool_call() -> None:
    step = next_step([{"role": "user", "content": "complete task 3"}], TODAY)
    assert step == ToolRequest("complete_task", {"task_id": 3})


def test_user_content_may_be_a_list_of_parts() -> None:
    message = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "delete task 4"}],
    }
    assert next_step([message], TODAY) == ToolRequest("delete_task", {"task_id": 4})


def test_mcp_shaped_output_and_error_text_are_read() -> None:
    task = {"task_id": 3, "status": "completed", "title": "Buy milk"}
    mcp_output = [{"type": "input_text", "text": json.dumps(task)}]
    items = [{"role": "user", "content": "complete task 3"}]
    done = next_step(items + call_items("complete_task", {"task_id": 3}, mcp_output), TODAY)
    assert isinstance(done, Reply) and "task 3" in done.text and "**Buy milk**" in done.text

    error = {
        "type": "text",
        "text": "Error executing tool complete_task: Task 3 was not found in your list.",
    }
    failed = next_step(items + call_items("complete_task", {"task_id": 3}, error), TODAY)
    assert failed == Reply("I couldn't do that: Task 3 was not found in your list.")


def test_a_python_repr_output_is_read_too() -> None:
    # A plain function tool returning a dict reaches the model as its repr.
    output = str({"task_id": 2, "status": "deleted", "title": "Old thing"})
    items = [
        {"role": "user", "content": "delete task 2"},
        *call_items("delete_task", {"task_id": 2}, output),
    ]
    assert next_step(items, TODAY) == Reply("Deleted task 2: **Old thing**.")


def test_only_the_latest_message_and_what_follows_count() -> None:
    earlier = [
        {"role": "user", "content": "delete task 1"},
        *call_items("delete_task", {"task_id": 1}, json.dumps({"task_id": 1, "title": "A"})),
        {"role": "assistant", "content": "Deleted task 1: **A**."},
    ]
    step = next_step([*earlier, {"role": "user", "content": "what's pending?"}], TODAY)
    assert step == ToolRequest("list_tasks", {"status": "pending"})


def test_an_ordinal_answers_the_which_one_question() -> None:
    question = (
        'I found 2 tasks matching "meeting":\n- **4** Team meeting\n- **9** Meeting notes\n'
        "Which one should I mark as done? Reply with its number, or say **complete task 4**."
    )
    history = [
        {"role": "user", "content": "complete the meeting task"},
        *call_items("list_tasks", {"status": "pending", "search": "meeting"}, "{}"),
        {"role": "assistant", "content": question},
    ]
    for answer, task_id in (("the first one", 4), ("second", 9), ("the last one", 9), ("9", 9)):
        step = next_step([*history, {"role": "user", "content": answer}], TODAY)
        assert step == ToolRequest("complete_task", {"task_id": task_id}), answer


def test_a_bare_number_without_a_question_asks_what_to_do() -> None:
    step = next_step([{"role": "user", "content": "4"}], TODAY)
    assert isinstance(step, Reply) and "task 4" in step.text


def exchange(said: str, answered: str) -> list[dict[str, str]]:
    """One earlier turn without tool calls: the person's message and the model's reply."""
    return [{"role": "user", "content": said}, {"role": "assistant", "content": answered}]


def test_an_answer_that_fits_no_listed_task_asks_again() -> None:
    question = (
        'I found 2 tasks matching "meeting":\n- **4** Team meeting\n- **9** Meeting notes\n'
        "Which one should I delete? Reply with its number, or say **delete task 4**."
    )
    history = exchange("delete the meeting task", question)
    for answer in ("the fifth one", "7", "the one about lunch"):
        step = next_step([*history, {"role": "user", "content": answer}], TODAY)
        assert isinstance(step, Reply), answer
        assert step.text.startswith("That isn't one of the tasks I listed (**4**, **9**)."), answer
    # Without a question before it, "the first one" names nothing.
    step = next_step("the first one", TODAY)
    assert step == Reply("Which task? Name it by number, e.g. **task 3**.")


def test_a_number_that_is_no_listed_task_is_read_as_a_position() -> None:
    """Found by bench/understanding.py: "2" after a list of tasks 4 and 9 once deleted task 2,
    which was not offered. It is the second one listed."""
    question = (
        'I found 2 tasks matching "meeting":\n- **4** Team meeting\n- **9** Meeting notes\n'
        "Which one should I delete? Reply with its number, or say **delete task 4**."
    )
    history = exchange("delete the meeting task", question)
    for answer, number in (("2", 9), ("9", 9), ("4", 4), ("the notes one", 9), ("team", 4)):
        step = next_step([*history, {"role": "user", "content": answer}], TODAY)
        assert step == ToolRequest("delete_task", {"task_id": number}), answer


def test_it_means_the_task_the_last_turn_was_about() -> None:
    """ "it" / "that" is the task the previous turn added, changed or listed alone; without
    one, or after a listing of several, the model asks which task."""
    added = [
        {"role": "user", "content": "add renew the car tax"},
        {"type": "function_call", "call_id": "a", "name": "add_task", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": '{"task_id": 12}'},
        {"role": "assistant", "content": "Added task 12."},
    ]
    listed = [
        {"role": "user", "content": "show my tasks"},
        {"type": "function_call", "call_id": "l", "name": "list_tasks", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "l",
            "output": '{"tasks": [{"task_id": 1, "title": "a"}, {"task_id": 2, "title": "b"}]}',
        },
        {"role": "assistant", "content": "Your tasks: ..."},
    ]
    cases = {
        "delete it": ToolRequest("delete_task", {"task_id": 12}),
        "make it urgent": ToolRequest("update_task", {"task_id": 12, "priority": "high"}),
        "rename it to Call mom": ToolRequest("update_task", {"task_id": 12, "title": "Call mom"}),
        "mark that done": ToolRequest("complete_task", {"task_id": 12}),
    }
    for message, expected in cases.items():
        assert parse_command(message, TODAY).refers_back, message
        assert next_step([*added, {"role": "user", "content": message}], TODAY) == expected
        for history in ([], listed):
            step = next_step([*history, {"role": "user", "content": message}], TODAY)
            assert isinstance(step, Reply) and step.text.startswith("Which task do you mean?")


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("thanks!", "You're welcome! Anything else for your list?"),
        ("ok", "You're welcome! Anything else for your list?"),
        ("never mind", "OK, I left your tasks as they are."),
        ("no thanks", "OK, I left your tasks as they are."),
    ],
)
def test_small_talk_replies_call_no_tool(message: str, reply: str) -> None:
    assert next_step(message, TODAY) == Reply(reply)


def test_without_a_user_message_it_offers_help() -> None:
    step = next_step([{"role": "assistant", "content": "Hi!"}], TODAY)
    assert isinstance(step, Reply) and "offline model" in step.text


def test_sdk_item_objects_are_read_like_dicts() -> None:
    user = Message(
        role="user",
        type="message",
        content=[ResponseInputText(type="input_text", text="delete task 4")],
    )
    call = ResponseFunctionToolCall(
        type="function_call",
        call_id="c1",
        name="delete_task",
        arguments=json.dumps({"task_id": 4}),
    )
    output = FunctionCallOutput(
        type="function_call_output",
        call_id="c1",
        output=json.dumps({"task_id": 4, "title": "Old thing", "status": "deleted"}),
    )
    assert next_step([user], TODAY) == ToolRequest("delete_task", {"task_id": 4})
    assert next_step([user, call, output], TODAY) == Reply("Deleted task 4: **Old thing**.")


def test_non_text_parts_of_a_message_are_ignored() -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            {"type": "input_text", "text": "delete task 4"},
        ],
    }
    assert next_step([message], TODAY) == ToolRequest("delete_task", {"task_id": 4})


def test_other_items_in_the_turn_are_skipped() -> None:
    items = [
        {"role": "user", "content": "delete task 2"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        *call_items("delete_task", {"task_id": 2}, json.dumps({"task_id": 2, "title": "Old"})),
    ]
    assert next_step(items, TODAY) == Reply("Deleted task 2: **Old**.")


def reply_to(message: str, tool: str, arguments: dict[str, Any] | str, output: Any) -> str:
    """The model's reply once `tool`, called with `arguments`, has returned `output`."""
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments)
    call = {"type": "function_call", "call_id": "c1", "name": tool, "arguments": arguments}
    items = [
        {"role": "user", "content": message},
        call,
        {"type": "function_call_output", "call_id": "c1", "output": output},
    ]
    step = next_step(items, TODAY)
    assert isinstance(step, Reply)
    return step.text


@pytest.mark.parametrize(
    ("output", "reply"),
    [
        # A JSON error object, a plain-text error, an empty or missing output.
        ('{"error": "Task 5 was not found."}', "I couldn't do that: Task 5 was not found."),
        ("Error: database is busy", "I couldn't do that: database is busy"),
        ("{not json", "I couldn't do that: {not json"),
        ("", "I couldn't do that: The tool returned nothing."),
        (None, "I couldn't do that: The tool returned nothing."),
    ],
)
def test_tool_failures_are_relayed(output: Any, reply: str) -> None:
    assert reply_to("delete task 5", "delete_task", '{"task_id": 5}', output) == reply


def test_call_arguments_as_a_mapping_or_garbled_text() -> None:
    task = json.dumps({"task_id": 3, "title": "Buy milk", "status": "pending"})
    # Arguments already parsed into a mapping still tell a reopen from a completion.
    items = [
        {"role": "user", "content": "reopen task 3"},
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "complete_task",
            "arguments": {"task_id": 3, "completed": False},
        },
        {"type": "function_call_output", "call_id": "c1", "output": task},
    ]
    assert next_step(items, TODAY) == Reply("Reopened task 3: **Buy milk** is pending again.")
    # Unreadable arguments do not stop the reply from describing the result.
    done = reply_to("complete task 3", "complete_task", "{task_id: 3", task)
    assert done == "Nice work! Marked task 3 as done: **Buy milk** ✓"


def test_an_output_for_an_unknown_call_is_still_acknowledged() -> None:
    user = {"role": "user", "content": "add buy milk"}
    for output, reply in (
        ('{"task_id": 8, "title": "Buy milk"}', "Done: task 8 **Buy milk**."),
        ('{"status": "ok"}', "Done."),
    ):
        item = {"type": "function_call_output", "call_id": "unknown", "output": output}
        assert next_step([user, item], TODAY) == Reply(reply)


def test_a_failed_lookup_is_explained() -> None:
    items = [
        {"role": "user", "content": "delete the meeting task"},
        *call_items("list_tasks", {"status": "all", "search": "meeting"}, "Database unavailable"),
    ]
    assert next_step(items, TODAY) == Reply("I couldn't look that task up: Database unavailable")


# --------------------------------------------------------------------------------------------
# Replies describing tool results
# --------------------------------------------------------------------------------------------


def test_added_task_reply_lists_its_details() -> None:
    task = {"task_id": 1, "title": "Email Sam", "priority": "medium", "due_date": None}
    reply = reply_to("add email Sam", "add_task", {}, json.dumps({**task, "tags": ["work", "x"]}))
    assert reply == "Added task 1: **Email Sam** (#work #x)."
    assert (
        reply_to("add email Sam", "add_task", {}, json.dumps(task))
        == "Added task 1: **Email Sam**."
    )
    # A due date or tag the tool returns in another form is shown as it is.
    odd = {**task, "due_date": "someday", "tags": "work", "priority": "low"}
    reply = reply_to("add email Sam", "add_task", {}, json.dumps(odd))
    assert reply == "Added task 1: **Email Sam** (due someday, low priority, #work)."


@pytest.mark.parametrize(
    ("arguments", "task", "summary"),
    [
        ({"priority": "high"}, {"priority": "high"}, "priority is now high"),
        ({"tags": ["work", "home"]}, {"tags": ["work", "home"]}, "tags: #work #home"),
        ({"tags": []}, {"tags": []}, "no tags"),
        ({"due_date": "none"}, {"due_date": None}, "no due date"),
        ({"description": "bring cake"}, {"description": "bring cake"}, "description updated"),
        (
            {"title": "Cake", "due_date": "2026-11-27"},
            {"title": "Cake", "due_date": "2026-11-27"},
            "renamed, due Fri 2026-11-27",
        ),
    ],
)
def test_update_reply_says_what_changed(
    arguments: dict[str, Any], task: dict[str, Any], summary: str
) -> None:
    result = json.dumps({"task_id": 2, "title": "Party", **task})
    reply = reply_to("tag task 2 with work", "update_task", {"task_id": 2, **arguments}, result)
    assert reply == f"Updated task 2: **{task.get('title', 'Party')}** ({summary})."


def listed(*tasks: dict[str, Any], count: int | None = None) -> str:
    return json.dumps({"count": len(tasks) if count is None else count, "tasks": list(tasks)})


def test_task_lines_flag_overdue_and_show_tags() -> None:
    tasks = [
        {"task_id": 1, "title": "Pay rent", "status": "pending", "due_date": "2026-11-20"},
        {"task_id": 2, "title": "Email Sam", "status": "pending", "tags": ["work"]},
        {"task_id": 3, "title": "Old bill", "status": "completed", "due_date": "2026-11-01"},
    ]
    reply = reply_to("show my tasks", "list_tasks", {"status": "all"}, listed(*tasks))
    assert reply.splitlines() == [
        "You have 3 tasks (1 done):",
        "- **1** Pay rent — due 2026-11-20 (overdue)",
        "- **2** Email Sam — #work",
        "- **3** Old bill — due 2026-11-01 · done ✓",
    ]
    pending = reply_to("show my tasks", "list_tasks", {"status": "all"}, listed(*tasks[:2]))
    assert pending.splitlines()[0] == "You have 2 tasks:"


def test_a_long_list_says_it_is_cut_short() -> None:
    task = {"task_id": 1, "title": "A", "status": "pending"}
    reply = reply_to("list", "list_tasks", {"status": "all", "limit": 1}, listed(task, count=7))
    assert reply.splitlines() == [
        "You have 7 tasks:",
        "- **1** A",
        "_Showing the first 1; add a filter to narrow it down._",
    ]


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("find the meeting task", 'You have no tasks matching "meeting".'),
        ("what's due today", "You have no pending tasks due by Sun 2026-11-22."),
        ("what's due next week", "You have no pending tasks due Mon 2026-11-23 to Sun 2026-11-29."),
        ("show tasks due after friday", "You have no pending tasks due from Sat 2026-11-28."),
        ("show low priority tasks tagged home", "You have no low priority tasks tagged #home."),
    ],
)
def test_an_empty_filtered_list_names_the_filter(message: str, reply: str) -> None:
    request = next_step(message, TODAY)
    assert isinstance(request, ToolRequest) and request.name == "list_tasks"
    assert reply_to(message, "list_tasks", request.arguments, listed()) == reply


def test_a_malformed_list_result_reads_as_empty() -> None:
    output = json.dumps({"tasks": "oops"})
    reply = reply_to("what's pending", "list_tasks", {"status": "pending"}, output)
    assert reply == "You have no pending tasks."


# --------------------------------------------------------------------------------------------
# Whole turns through the real Runner
# --------------------------------------------------------------------------------------------


@dataclass
class TaskList:
    """A tiny in-memory task list behind tools named like the MCP server's."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mcp_shaped: bool = False  # answer the way MCP tool results reach the model
    next_id: int = 1

    def seed(self, *titles: str) -> TaskList:
        for title in titles:
            self._add(title)
        return self

    def _add(self, title: str, **fields: Any) -> dict[str, Any]:
        task = {
            "task_id": self.next_id,
            "title": title,
            "description": "",
            "completed": False,
            "priority": "medium",
            "due_date": None,
            "tags": [],
            **fields,
        }
        self.next_id += 1
        self.tasks.append(task)
        return task

    def _find(self, task_id: int) -> dict[str, Any] | None:
        return next((task for task in self.tasks if task["task_id"] == task_id), None)

    def _reply(self, payload: dict[str, Any]) -> Any:
        text = json.dumps(payload)
        return ToolOutputText(text=text) if self.mcp_shaped else text

    def _missing(self, tool: str, task_id: int) -> Any:
        """A tool failure: plain text, worded as the MCP server words it."""
        text = f"Task {task_id} was not found in your list."
        if self.mcp_shaped:
            return ToolOutputText(text=f"Error executing tool {tool}: {text}")
        return text

    def tools(self) -> list[FunctionTool]:
        @function_tool
        async def add_task(
            title: str,
            description: str = "",
            priority: Literal["low", "medium", "high"] = "medium",
            due_date: str | None = None,
            tags: list[str] | None = None,
        ) -> Any:
            """Add a task."""
            self.calls.append(
                (
                    "add_task",
                    {"title": title, "priority": priority, "due_date": due_date, "tags": tags},
                )
            )
            task = self._add(
                title,
                description=description,
                priority=priority,
                due_date=due_date,
                tags=tags or [],
            )
            return self._reply({**task, "status": "created"})

        @function_tool
        async def list_tasks(
            status: Literal["all", "pending", "completed"] = "all",
            priority: Literal["low", "medium", "high"] | None = None,
            tag: str | None = None,
            search: str | None = None,
            due_before: str | None = None,
            due_after: str | None = None,
            sort: Literal["created", "due", "priority", "title"] = "created",
            limit: int = 50,
        ) -> Any:
            """List tasks."""
            arguments = {"status": status, "search": search, "priority": priority, "tag": tag}
            self.calls.append(("list_tasks", {k: v for k, v in arguments.items() if v is not None}))
            found = [
                {**task, "status": "completed" if task["completed"] else "pending"}
                for task in self.tasks
                if (status == "all" or task["completed"] == (status == "completed"))
                and (not search or search.lower() in task["title"].lower())
                and (not priority or task["priority"] == priority)
                and (not tag or tag in task["tags"])
                and (not due_before or (task["due_date"] and task["due_date"] <= due_before))
            ]
            return self._reply(
                {"status": "ok", "filter": status, "count": len(found), "tasks": found}
            )

        @function_tool
        async def complete_task(task_id: int, completed: bool = True) -> Any:
            """Complete a task."""
            self.calls.append(("complete_task", {"task_id": task_id, "completed": completed}))
            task = self._find(task_id)
            if task is None:
                return self._missing("complete_task", task_id)
            task["completed"] = completed
            return self._reply({**task, "status": "completed" if completed else "pending"})

        @function_tool
        async def delete_task(task_id: int) -> Any:
            """Delete a task."""
            self.calls.append(("delete_task", {"task_id": task_id}))
            task = self._find(task_id)
            if task is None:
                return self._missing("delete_task", task_id)
            self.tasks.remove(task)
            return self._reply({**task, "status": "deleted"})

        @function_tool
        async def update_task(
            task_id: int,
            title: str | None = None,
            description: str | None = None,
            priority: Literal["low", "medium", "high"] | None = None,
            due_date: str | None = None,
            tags: list[str] | None = None,
        ) -> Any:
            """Update a task."""
            changes = {
                "title": title,
                "description": description,
                "priority": priority,
                "due_date": due_date,
                "tags": tags,
            }
            changes = {key: value for key, value in changes.items() if value is not None}
            self.calls.append(("update_task", {"task_id": task_id, **changes}))
            task = self._find(task_id)
            if task is None:
                return self._missing("update_task", task_id)
            if changes.get("due_date") == "none":
                changes["due_date"] = None
            task.update(changes)
            return self._reply({**task, "status": "updated"})

        return [add_task, list_tasks, complete_task, delete_task, update_task]


@dataclass
class Turn:
    output: str
    deltas: list[str]
    items: list[TResponseInputItem]
    event_types: list[str]


def make_agent(store: TaskList | None) -> Agent[Any]:
    model = OfflineModel(Settings(database_url="sqlite:///:memory:"), today=lambda: TODAY)
    return Agent(
        name="TaskPilot",
        instructions="Manage the user's tasks.",
        model=model,
        tools=list(store.tools()) if store is not None else [],
    )


async def run_turn(
    store: TaskList | None,
    message: str,
    streamed: bool,
    history: list[TResponseInputItem] | None = None,
) -> Turn:
    agent = make_agent(store)
    items: list[TResponseInputItem] = [*(history or []), {"role": "user", "content": message}]
    config = RunConfig(tracing_disabled=True)
    if not streamed:
        result = await Runner.run(agent, items, run_config=config)
        return Turn(str(result.final_output), [], result.to_input_list(), [])
    streaming = Runner.run_streamed(agent, items, run_config=config)
    deltas: list[str] = []
    event_types: list[str] = []
    async for event in streaming.stream_events():
        if event.type == "raw_response_event":
            event_types.append(event.data.type)
            if isinstance(event.data, ResponseTextDeltaEvent):
                deltas.append(event.data.delta)
    output = str(streaming.final_output)
    assert "".join(deltas) == output  # the streamed text is the reply, exactly
    return Turn(output, deltas, streaming.to_input_list(), event_types)


both_modes = pytest.mark.parametrize("streamed", [True, False], ids=["run_streamed", "run"])


@pytest.mark.asyncio
@both_modes
async def test_add_turn(streamed: bool) -> None:
    store = TaskList()
    turn = await run_turn(store, "add call the dentist friday, high priority", streamed)
    assert store.calls == [
        (
            "add_task",
            {
                "title": "Call the dentist",
                "priority": "high",
                "due_date": "2026-11-27",
                "tags": None,
            },
        )
    ]
    assert turn.output == "Added task 1: **Call the dentist** (due Fri 2026-11-27, high priority)."


@pytest.mark.asyncio
async def test_streamed_reply_comes_word_by_word_in_the_standard_event_order() -> None:
    store = TaskList().seed("Buy milk")
    turn = await run_turn(store, "complete task 1", streamed=True)
    assert len(turn.deltas) > 3
    reply_events = turn.event_types[turn.event_types.index("response.completed") + 1 :]
    first_delta = reply_events.index("response.output_text.delta")
    assert reply_events[:first_delta] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert reply_events[first_delta + len(turn.deltas) :] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    tool_events = turn.event_types[: turn.event_types.index("response.completed") + 1]
    assert "response.function_call_arguments.done" in tool_events


@pytest.mark.asyncio
@both_modes
async def test_list_turns(streamed: bool) -> None:
    store = TaskList().seed("Buy milk", "Call mom")
    store.tasks[0]["due_date"], store.tasks[0]["priority"] = "2026-11-27", "high"
    store.tasks[1]["completed"] = True

    turn = await run_turn(store, "What's pending?", streamed)
    assert store.calls == [("list_tasks", {"status": "pending"})]
    assert turn.output == "You have 1 pending task:\n- **1** Buy milk — due 2026-11-27 · high"

    turn = await run_turn(store, "show me all my tasks", streamed)
    assert turn.output.splitlines() == [
        "You have 2 tasks (1 done):",
        "- **1** Buy milk — due 2026-11-27 · high",
        "- **2** Call mom — done ✓",
    ]

    turn = await run_turn(store, "show high priority tasks tagged home", streamed)
    assert turn.output == "You have no high priority tasks tagged #home."


@pytest.mark.asyncio
async def test_an_empty_list_is_friendly() -> None:
    turn = await run_turn(TaskList(), "what's still open?", streamed=True)
    assert turn.output == "You have no pending tasks."
    turn = await run_turn(TaskList(), "list my tasks", streamed=True)
    assert turn.output.startswith("You have no tasks yet.")


@pytest.mark.asyncio
@both_modes
async def test_complete_reopen_update_by_number(streamed: bool) -> None:
    store = TaskList().seed("Buy milk", "Call mom")
    turn = await run_turn(store, "Mark task 2 as complete", streamed)
    assert store.calls[-1] == ("complete_task", {"task_id": 2, "completed": True})
    assert "Marked task 2 as done: **Call mom**" in turn.output

    turn = await run_turn(store, "reopen task 2", streamed)
    assert store.calls[-1] == ("complete_task", {"task_id": 2, "completed": False})
    assert turn.output == "Reopened task 2: **Call mom** is pending again."

    turn = await run_turn(store, "Change task 2 to 'Call mom tonight'", streamed)
    assert store.calls[-1] == ("update_task", {"task_id": 2, "title": "Call mom tonight"})
    assert turn.output == "Updated task 2: **Call mom tonight** (renamed)."

    turn = await run_turn(store, "move task 2 to friday", streamed)
    assert store.calls[-1] == ("update_task", {"task_id": 2, "due_date": "2026-11-27"})
    assert turn.output == "Updated task 2: **Call mom tonight** (due Fri 2026-11-27)."


@pytest.mark.asyncio
@both_modes
async def test_a_tool_error_is_relayed_plainly(streamed: bool) -> None:
    store = TaskList().seed("Buy milk")
    turn = await run_turn(store, "complete task 7", streamed)
    assert store.calls == [("complete_task", {"task_id": 7, "completed": True})]
    assert turn.output == "I couldn't do that: Task 7 was not found in your list."


@pytest.mark.asyncio
async def test_mcp_shaped_tool_outputs() -> None:
    store = TaskList(mcp_shaped=True).seed("Buy milk")
    turn = await run_turn(store, "delete task 1", streamed=True)
    assert turn.output == "Deleted task 1: **Buy milk**."
    turn = await run_turn(store, "delete task 1", streamed=True)
    assert turn.output == "I couldn't do that: Task 1 was not found in your list."


@pytest.mark.asyncio
@both_modes
async def test_delete_by_name_with_one_match(streamed: bool) -> None:
    store = TaskList().seed("Buy milk", "Team meeting")
    turn = await run_turn(store, "Delete the meeting task", streamed)
    assert store.calls == [
        ("list_tasks", {"status": "all", "search": "meeting"}),
        ("delete_task", {"task_id": 2}),
    ]
    assert turn.output == "Deleted task 2: **Team meeting**."
    assert [task["title"] for task in store.tasks] == ["Buy milk"]


@pytest.mark.asyncio
@both_modes
async def test_delete_by_name_with_no_match(streamed: bool) -> None:
    store = TaskList().seed("Buy milk")
    turn = await run_turn(store, "Delete the meeting task", streamed)
    # The words as typed, then every task (this store's tool takes no limit), read word by
    # word for typos and other word forms.
    assert store.calls == [
        ("list_tasks", {"status": "all", "search": "meeting"}),
        ("list_tasks", {"status": "all"}),
    ]
    assert 'No task matching "meeting" was found.' in turn.output
    assert len(store.tasks) == 1


@pytest.mark.asyncio
@both_modes
async def test_delete_by_name_with_two_matches_asks_then_acts_on_the_number(
    streamed: bool,
) -> None:
    store = TaskList().seed("Team meeting", "Buy milk", "Meeting notes")
    turn = await run_turn(store, "Delete the meeting task", streamed)
    assert store.calls == [("list_tasks", {"status": "all", "search": "meeting"})]
    assert turn.output.splitlines()[:3] == [
        'I found 2 tasks matching "meeting":',
        "- **1** Team meeting",
        "- **3** Meeting notes",
    ]
    assert "Which one should I delete?" in turn.output
    assert len(store.tasks) == 3

    # The answer "3" is read against the question in the history.
    answer = await run_turn(store, "3", streamed, history=turn.items)
    assert store.calls[-1] == ("delete_task", {"task_id": 3})
    assert answer.output == "Deleted task 3: **Meeting notes**."


@pytest.mark.asyncio
@both_modes
async def test_complete_and_update_by_name(streamed: bool) -> None:
    store = TaskList().seed("Buy groceries", "Buy milk")
    turn = await run_turn(store, "complete the groceries task", streamed)
    assert store.calls == [
        ("list_tasks", {"status": "pending", "search": "groceries"}),
        ("complete_task", {"task_id": 1, "completed": True}),
    ]
    assert "**Buy groceries**" in turn.output

    turn = await run_turn(store, "mark buy milk as done", streamed)
    assert store.calls[-1] == ("complete_task", {"task_id": 2, "completed": True})

    turn = await run_turn(store, "complete the groceries task", streamed)
    assert turn.output.startswith('No pending task matching "groceries" was found.')

    turn = await run_turn(store, "rename the milk task to Buy oat milk", streamed)
    assert store.calls[-2:] == [
        ("list_tasks", {"status": "all", "search": "milk"}),
        ("update_task", {"task_id": 2, "title": "Buy oat milk"}),
    ]
    assert turn.output == "Updated task 2: **Buy oat milk** (renamed)."


@pytest.mark.asyncio
@both_modes
async def test_help_is_honest_and_calls_no_tool(streamed: bool) -> None:
    store = TaskList()
    for message in ("hi", "help", "what's the meaning of life?"):
        turn = await run_turn(store, message, streamed)
        assert "rule-based" in turn.output and "not an AI" in turn.output
        assert "OPENAI_API_KEY" in turn.output and "MODEL_PROVIDER" in turn.output
    assert store.calls == []


@pytest.mark.asyncio
async def test_without_task_tools_it_says_so() -> None:
    turn = await run_turn(None, "add buy milk", streamed=True)
    assert turn.output.startswith("I can't reach the task tools right now")


@pytest.mark.asyncio
@both_modes
async def test_tagging_turn_and_an_unreadable_edit(streamed: bool) -> None:
    store = TaskList().seed("Buy milk")
    turn = await run_turn(store, "tag task 1 with work and errands", streamed)
    assert store.calls == [("update_task", {"task_id": 1, "tags": ["work", "errands"]})]
    assert turn.output == "Updated task 1: **Buy milk** (tags: #work #errands)."

    # An edit it cannot read changes nothing and says how to phrase it.
    turn = await run_turn(store, "update task 1: call mom", streamed)
    assert len(store.calls) == 1
    assert turn.output.startswith("I couldn't tell which task to change, or how.")
    assert store.tasks[0]["title"] == "Buy milk"


def test_a_due_date_moves_by_an_amount_from_its_own() -> None:
    """ "push task 4 back a week" counts from task 4's due date (looked up first), not from
    today; a task without one counts from today; "bring ... forward" moves it earlier."""
    today = date(2026, 12, 2)

    def after(message: str, tasks: list[dict[str, Any]]) -> Any:
        first = next_step(message, today)
        assert isinstance(first, ToolRequest) and first.name == "list_tasks"
        output = json.dumps({"tasks": tasks})
        return first, next_step(
            [
                {"role": "user", "content": message},
                {"type": "function_call", "call_id": "c", "name": "list_tasks", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": output},
            ],
            today,
        )

    due = {"task_id": 4, "title": "Pay the bill", "due_date": "2026-12-05"}
    first, step = after("push task 4 back a week", [due, {"task_id": 5, "title": "x"}])
    assert first.arguments == {"status": "all", "limit": 200}
    assert step == ToolRequest("update_task", {"task_id": 4, "due_date": "2026-12-12"})
    _, step = after("push task 4 back a week", [{"task_id": 4, "title": "Pay the bill"}])
    assert step == ToolRequest("update_task", {"task_id": 4, "due_date": "2026-12-09"})
    _, step = after("push task 4 back a week", [{"task_id": 5, "title": "x"}])
    assert step == Reply("Task 4 was not found.")
    first, step = after("bring the bill forward 2 days", [due])
    assert first.arguments == {"status": "all", "search": "bill"}
    assert step == ToolRequest("update_task", {"task_id": 4, "due_date": "2026-12-03"})


@pytest.mark.parametrize(
    ("text", "title", "due"),
    [
        ("add comprar leche mañana", "Comprar leche", date(2026, 12, 3)),
        ("add appeler maman vendredi", "Appeler maman", date(2026, 12, 4)),
        ("add Oma anrufen übermorgen", "Oma anrufen", date(2026, 12, 4)),
        ("add chiamare Luca domani", "Chiamare Luca", date(2026, 12, 3)),
    ],
)
def test_a_day_in_another_language_ends_an_added_task(text: str, title: str, due: date) -> None:
    """dateparser reads other languages' day words; the grammar finds them in the sentence."""
    command = parse_command(text, date(2026, 12, 2))
    assert command.intent is Intent.ADD
    assert dict(command.arguments) == {"title": title, "due_date": due.isoformat()}


@pytest.mark.parametrize(
    "text",
    [
        # A take-back beside the request (found in review: each once deleted or completed).
        "delete task 4, never mind",
        "delete task 4, just kidding",
        "delete task 3, actually no",
        "delete task 3? no, keep it",
        "complete the report, no wait, don't",
        "complete task 4, not yet",
        "delete task 3, sorry, I meant complete it",
        "complete task 3, no, delete it",
        # Questions about a task's state.
        "did I pay rent?",
        "is the report done?",
        "task 2 done?",
        "was the rent paid?",
        "has the plumber called?",
        # News that is not "done".
        "task 3 is unfinished",
        "task 3 started",
        "I started task 3",
        "I started the quarterly report",
        "task 3 is blocked",
        # Real words near a command verb.
        "delegate the report",
        "remote the passport",
        "compete the report",
        "Finnish the report",
        "forget to pay the bill",
        "wipe the kitchen counters",
        "dump the recycling",
        # A second review's: take-backs in a trailing clause, conditions, news of others,
        # fields and positions that are no task, several tasks at once.
        "delete the report, scratch that",
        "delete the report, jk",
        "delete mom, dad i mean",
        "complete the report, well almost",
        "the report is kinda done",
        "called mom, she didn't pick up",
        "if mom calls, complete task 4",
        "when I'm back, delete task 4",
        "mom called",
        "remove the date",
        "delete the note",
        "delete the first one",
        "delete one",
        "delete task 3, 4",
        "forget about it",
        "drop it",
    ],
)
def test_a_doubtful_message_never_deletes_or_completes(text: str) -> None:
    """It asks, lists or says it did not understand; a delete or completion needs a clear
    request ("Did you mean **delete task 4**?" is answered by "yes")."""
    step = next_step(text, date(2026, 12, 2))
    destructive = ("delete_task", "complete_task")
    assert not (isinstance(step, ToolRequest) and step.name in destructive), step
    command = parse_command(text, date(2026, 12, 2))
    assert command.intent not in (Intent.DELETE, Intent.COMPLETE), command


def test_yes_to_did_you_mean_does_it_and_a_near_miss_title_is_asked() -> None:
    today = date(2026, 12, 2)
    asked = next_step("delet task 5", today)
    assert isinstance(asked, Reply) and "Did you mean **delete task 5**?" in asked.text
    history = exchange("delet task 5", asked.text)
    for yes in ("yes", "yep", "sure, please", "go ahead"):
        step = next_step([*history, {"role": "user", "content": yes}], today)
        assert step == ToolRequest("delete_task", {"task_id": 5}), yes
    step = next_step([*history, {"role": "user", "content": "no"}], today)
    assert isinstance(step, Reply) and "left your tasks" in step.text
    # "cancel the dinner": a similar word ("winner") is never enough to delete.
    items: list[Any] = [
        {"role": "user", "content": "cancel the dinner"},
        {"type": "function_call", "call_id": "a", "name": "list_tasks", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": '{"tasks": []}'},
        {"type": "function_call", "call_id": "b", "name": "list_tasks", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "b",
            "output": '{"tasks": [{"task_id": 7, "title": "Pick the raffle winner"}]}',
        },
    ]
    step = next_step(items, today)
    assert isinstance(step, Reply) and "Did you mean one of these?" in step.text


def test_an_answer_that_says_no_or_names_no_offered_task_is_asked_again() -> None:
    question = (
        'I found 3 tasks matching "call":\n- **4** Call mom\n- **12** Call the plumber\n'
        "- **15** Call dad\nWhich one should I delete? Reply with its number or its name."
    )
    history = exchange("delete call", question)
    for answer in ("task 2", "#2", "task 3", "not dad", "no, not mom", "mom? no"):
        step = next_step([*history, {"role": "user", "content": answer}], date(2026, 12, 2))
        assert isinstance(step, Reply), (answer, step)


def test_it_after_a_failed_call_is_unclear() -> None:
    items = [
        {"role": "user", "content": "add buy milk"},
        {"type": "function_call", "call_id": "a", "name": "add_task", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": '{"task_id": 11}'},
        {"role": "assistant", "content": "Added task 11."},
        {"role": "user", "content": "delete task 99"},
        {"type": "function_call", "call_id": "b", "name": "delete_task", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "b", "output": "Error: Task 99 was not found."},
        {"role": "assistant", "content": "Task 99 was not found."},
        {"role": "user", "content": "delete it"},
    ]
    step = next_step(items, date(2026, 12, 2))
    assert isinstance(step, Reply) and step.text.startswith("Which task do you mean?")


def test_one_title_holding_the_words_is_not_enough_for_a_delete() -> None:
    """ "delete the tea": the search finds "Prepare the team meeting" (a substring), which is
    asked about; "delete task 3 and 4" names no one task; "yes" to the offer does it."""
    today = date(2026, 12, 2)
    listing = json.dumps({"tasks": [{"task_id": 8, "title": "Prepare the team meeting"}]})
    items: list[Any] = [
        {"role": "user", "content": "delete the tea"},
        {"type": "function_call", "call_id": "a", "name": "list_tasks", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": listing},
    ]
    step = next_step(items, today)
    assert isinstance(step, Reply) and "Did you mean this one?" in step.text
    history = [items[0], {"role": "assistant", "content": step.text}]
    step = next_step([*history, {"role": "user", "content": "yes"}], today)
    assert step == ToolRequest("delete_task", {"task_id": 8})
    items[0] = {"role": "user", "content": "delete task 3 and 4"}
    step = next_step(items, today)
    assert isinstance(step, Reply) and step.text.startswith("Which task do you mean")
