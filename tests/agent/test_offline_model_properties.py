"""Property tests of the offline model (`taskpilot.agent.offline`), beyond the examples in
`test_offline_model.py`: whatever a person types — any Unicode, the hostile corpus, prompt
injections, 4000 characters of it — it answers without raising and in bounded time, and every
tool call it makes names one of the MCP server's tools with arguments that tool's own input
schema accepts (and no argument the schema does not declare, such as a user id). Whatever a
tool sends back, the turn ends in a reply.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from functools import cache
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskpilot.agent.offline import Reply, ToolRequest, next_step
from taskpilot.core.db import Database
from taskpilot.mcp.server import build_mcp_server
from taskpilot.mcp.tools import ToolName
from taskpilot.services.dates import parse_due
from tests.support.harness import make_settings
from tests.support.hostile_corpus import (
    MARKUP,
    ODD_UNICODE,
    SQL_INJECTION,
    UNSTORABLE,
    prompt_injections,
)

TODAY = date(2026, 11, 22)  # a Sunday
CORPUS = (
    SQL_INJECTION
    + MARKUP
    + ODD_UNICODE
    + UNSTORABLE
    + prompt_injections("8d4f2a0c9b7e4e1f", "alice@example.com")
)
COMMANDS = (
    "add", "create", "remind me to", "i need to", "todo:", "show", "list", "what's", "find",
    "complete", "mark", "done", "reopen", "delete", "remove", "rename", "set", "move", "tag",
    "update task 2:", "change", "prioritize", "clear the due date of", "the first one", "2",
)  # fmt: skip
WORDS = (
    "task", "1", "3", "#work", "tagged home", "tags: a, b", "high priority", "urgent", "low",
    "tomorrow", "friday", "next week", "2026-12-01", "2026-02-30", "due", "by", "on", "to",
    "as", "done", "pending", "with", "description: more", "the meeting", "milk", "'", '"',
    ",", ":", "(", ")", "please", "it", "for me", "this week", "overdue", "sort by due",
)  # fmt: skip
MESSAGE = st.one_of(
    st.lists(st.sampled_from(COMMANDS + WORDS), max_size=12).map(" ".join),
    st.tuples(st.sampled_from(COMMANDS), st.sampled_from(CORPUS) | st.text(max_size=60)).map(
        " ".join
    ),
    st.sampled_from(CORPUS),
    st.text(max_size=300),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
TASK = st.fixed_dictionaries(
    {"task_id": st.integers(-2, 10**12) | JSON, "title": st.sampled_from(CORPUS) | JSON},
    optional={"status": JSON, "due_date": JSON, "priority": JSON, "tags": JSON},
)
TOOL_OUTPUT = st.one_of(
    TASK.map(json.dumps),
    st.fixed_dictionaries({"count": JSON, "tasks": st.lists(TASK, max_size=4) | JSON}).map(
        json.dumps
    ),
    JSON.map(json.dumps),
    st.text(max_size=200),
    st.sampled_from(["[" * 3000 + "]" * 3000, "{" * 3000, "Error executing tool x: " + "<b>"]),
)


@cache
def tool_schemas() -> dict[str, dict[str, Any]]:
    """The MCP server's own input schemas, made strict: no argument it does not declare."""
    configured = make_settings("sqlite://")
    tools = asyncio.run(build_mcp_server(configured, Database(configured)).list_tools())
    return {tool.name: {**tool.input_schema, "additionalProperties": False} for tool in tools}


def assert_valid_call(step: ToolRequest) -> None:
    assert step.name in set(ToolName) and set(ToolName) == set(tool_schemas())
    jsonschema.validate(step.arguments, tool_schemas()[step.name])
    for name in ("due_date", "due_before", "due_after"):
        value = step.arguments.get(name)
        if value is not None and value != "none":
            assert parse_due(value, TODAY) == date.fromisoformat(value)
    if "task_id" in step.arguments:
        assert 0 <= step.arguments["task_id"] < 2**31


@settings(max_examples=400, deadline=None)
@given(MESSAGE)
def test_any_message_gets_a_schema_valid_tool_call_or_a_reply(message: str) -> None:
    """The first step for any message is a reply with text, or one call of a real MCP tool
    whose arguments its input schema accepts."""
    step = next_step(message, TODAY)
    if isinstance(step, ToolRequest):
        assert_valid_call(step)
    else:
        assert isinstance(step, Reply) and step.text.strip()


@settings(max_examples=300, deadline=None)
@given(MESSAGE, TOOL_OUTPUT, st.booleans())
def test_any_tool_output_ends_the_turn_in_a_reply_or_a_valid_next_call(
    message: str, output: str, as_parts: bool
) -> None:
    """Whatever the tool returns — hostile titles, wrong types, deep nesting, an error — the
    model's next step does not raise: a reply, or (after a lookup) one more valid call."""
    first = next_step(message, TODAY)
    if not isinstance(first, ToolRequest):
        return
    items: list[Any] = [
        {"role": "user", "content": message},
        {
            "type": "function_call",
            "call_id": "c1",
            "name": first.name,
            "arguments": json.dumps(first.arguments),
        },
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [{"type": "input_text", "text": output}] if as_parts else output,
        },
    ]
    step = next_step(items, TODAY)
    if isinstance(step, ToolRequest):
        assert first.name == "list_tasks"
        if step.name == "list_tasks":  # nothing had the words as typed: look at every task
            assert "search" in first.arguments and "search" not in step.arguments
        assert_valid_call(step)
    else:
        assert isinstance(step, Reply) and step.text.strip()


# Runs of what the parser's patterns look for, repeated to the message limit: before the
# patterns were bounded, "add " followed by 4000 characters of "((" took over two seconds of
# the event loop's time.
SLOW_BEFORE = ("((", ", ", "? ", "#a ", "with ", "please ", "tomorrow ", "friday ( 1, ", "- ")


@pytest.mark.parametrize("unit", SLOW_BEFORE)
@pytest.mark.parametrize("prefix", ["", "add ", "move ", "update task 1: ", "remind me to "])
def test_a_message_at_the_length_limit_is_parsed_quickly(prefix: str, unit: str) -> None:
    """4000 characters of repeated separators or keywords take well under a second."""
    message = (prefix + unit * 4000)[:4000]
    started = time.perf_counter()
    next_step(message, TODAY)
    assert time.perf_counter() - started < 1.0


def test_a_lookup_result_with_an_impossible_task_number_is_not_acted_on() -> None:
    """Found by the property above: a tool result naming task -1 (or 0, or 2**31) is no task;
    the model says none matched rather than calling a tool with it."""
    for bad in (-1, 0, 2**31):
        output = json.dumps({"tasks": [{"task_id": bad, "title": "milk", "status": "pending"}]})
        first = next_step("complete milk", TODAY)
        assert isinstance(first, ToolRequest) and first.name == "list_tasks"
        items: list[Any] = [
            {"role": "user", "content": "complete milk"},
            {"type": "function_call", "call_id": "c1", "name": "list_tasks", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": output},
        ]
        wider = next_step(items, TODAY)
        assert wider == ToolRequest("list_tasks", {"status": "pending", "limit": 200})
        items += [
            {"type": "function_call", "call_id": "c2", "name": "list_tasks", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c2", "output": output},
        ]
        step = next_step(items, TODAY)
        assert isinstance(step, Reply) and "No" in step.text
