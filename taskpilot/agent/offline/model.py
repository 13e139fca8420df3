"""The model: `next_step` decides what to do with the turn so far (call a tool or reply), and
`OfflineModel` offers it to the Agents SDK as a `Model`, its step as Responses API output.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import date
from itertools import takewhile
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from openai.types.responses.response_prompt_param import ResponsePromptParam

from taskpilot.agent.offline.commands import (
    DESTRUCTIVE,
    TASK_ACTIONS,
    Command,
    Intent,
    Reply,
    ToolRequest,
)
from taskpilot.agent.offline.confirmation import CONFIRM, YES, confirm
from taskpilot.agent.offline.context import Recent, last_task
from taskpilot.agent.offline.grammar import parse_command
from taskpilot.agent.offline.lookup import after_lookup, choose_without_question, resolve_choice
from taskpilot.agent.offline.matching import POSSIBLE, content_words, score
from taskpilot.agent.offline.replies import HELP_TEXT, describe_result
from taskpilot.agent.offline.transcript import (
    content_text,
    get,
    is_message,
    turn_results,
)
from taskpilot.agent.offline.undoing import asks_to_undo, undo_last_change
from taskpilot.agent.stream_events import (
    OutputItem,
    function_call_item,
    message_item,
    response_events,
)
from taskpilot.core.clock import today as settings_today
from taskpilot.core.config import Settings
from taskpilot.mcp.tools import ToolName, canonical_name

MODEL_NAME = "taskpilot-offline"


def _first_step(command: Command) -> ToolRequest | Reply:
    if command.intent in (Intent.GREETING, Intent.HELP):
        prefix = "Hi! " if command.intent is Intent.GREETING else ""
        return Reply(prefix + HELP_TEXT)
    if command.intent is Intent.THANKS:
        return Reply("You're welcome! Anything else for your list?")
    if command.intent is Intent.DISMISS:
        return Reply("OK, I left your tasks as they are.")
    if command.intent is Intent.UNKNOWN:
        return Reply("Sorry, I didn't understand that. " + HELP_TEXT)
    if command.intent is Intent.CLARIFY or command.tool is None:
        return Reply(command.message or HELP_TEXT)
    if command.needs_lookup:
        return ToolRequest(ToolName.LIST_TASKS, command.lookup_arguments())
    return ToolRequest(command.tool, command.tool_arguments())


def next_step(input: str | Sequence[Any], today: date) -> ToolRequest | Reply:
    """Decide the model's next step from the Runner's input: call a tool, or reply.

    Only the latest user message and the tool calls and outputs after it count; earlier turns
    matter only to read a bare number that answers our "which one?" question.
    """
    items: Sequence[Any] = [{"role": "user", "content": input}] if isinstance(input, str) else input
    user_index = next(
        (index for index in range(len(items) - 1, -1, -1) if is_message(items[index], "user")),
        None,
    )
    if user_index is None:
        return Reply(HELP_TEXT)
    text = " ".join(content_text(get(items[user_index], "content")).split())
    history = items[:user_index]
    results = turn_results(items[user_index + 1 :])
    if asks_to_undo(text) and not results:
        return undo_last_change(history)
    command = _understood(parse_command(text, today), text, history, today)
    if not results:
        return _first_step(command)
    if command.needs_lookup:
        lookups = list(takewhile(lambda result: result.name == ToolName.LIST_TASKS, results))
        if len(lookups) == len(results):  # looked up, not acted yet
            return after_lookup(command, lookups, today)
        results = results[len(lookups) :]
    return Reply("\n\n".join(describe_result(result, today) for result in results))


_ASKED = re.compile(re.escape(CONFIRM) + r"\*\*(?P<command>[^*]+)\*\*\?")


def _confirmed(text: str, history: Sequence[Any], today: date) -> Command | None:
    """ "yes" to our "Did you mean **delete task 3**?": that command, as if typed so."""
    if not YES.match(text):
        return None
    assistant = next((i for i in reversed(history) if is_message(i, "assistant")), None)
    # Our own question opens the message; the same words inside a title it echoes are not it.
    asked = _ASKED.match(content_text(get(assistant, "content"))) if assistant else None
    if asked is None:
        return None
    return parse_command(asked.group("command"), today)


# "and the passport one too", "same for the electricity bill": the last request again, for
# another task.
_ALSO = re.compile(
    r"^(?:and\s+|also\s+)?(?P<ref>.+?)\s+(?:too|as\s+well|also)$|"
    r"^(?:and\s+)?(?:(?:the\s+)?same\s+(?:for|with)|ditto\s+(?:for\s+)?|do\s+the\s+same\s+"
    r"(?:for|with))\s+(?P<other>.+)$",
    re.IGNORECASE,
)


def _same_again(text: str, history: Sequence[Any], today: date) -> Command | None:
    """The previous message's request, acting on the task this one names instead."""
    also = _ALSO.match(text.strip(" .!?"))
    previous = next((i for i in reversed(history) if is_message(i, "user")), None)
    if also is None or previous is None:
        return None
    earlier = parse_command(content_text(get(previous, "content")), today)
    if earlier.intent not in TASK_ACTIONS:
        return None
    said = also.group("ref") or also.group("other")
    named = parse_command(f"delete {said}", today)
    if named.intent is not Intent.DELETE or named.refers_back or not content_words(said):
        return None  # "me too", "same for the rest": no task named
    again = replace(earlier, task_id=named.task_id, target=named.target, refers_back=False)
    return confirm(again) if again.intent in DESTRUCTIVE else again


def _understood(command: Command, text: str, history: Sequence[Any], today: date) -> Command:
    """The command in the light of the conversation: an answer to our "which one?" question,
    or "it" read as the task the last turn was about."""
    if (confirmed := _confirmed(text, history, today)) is not None:
        command = confirmed  # what it names ("delete it") is read below, as if typed
    elif (answer := resolve_choice(command, text, history, today)) is not None:
        return answer
    if command.intent is Intent.CHOOSE:
        return choose_without_question(command)
    if command.intent is Intent.UNKNOWN and (again := _same_again(text, history, today)):
        return again
    if command.refers_back:
        return _what_it_is(command, last_task(history))
    return command


def _what_it_is(command: Command, recent: Recent | None) -> Command:
    """ "it": the task just talked about. A run-on message may also name a task in another
    clause ("don't need the report anymore, wipe it"): without a task just talked about, or
    when a delete or completion names one that is not it, the task named wins."""
    named = command.target is not None or command.task_id is not None
    if recent is not None:
        agrees = command.target is None or score(command.target, recent.title) >= POSSIBLE
        keeps = command.intent not in DESTRUCTIVE
        if not named or agrees or keeps:
            resolved = replace(command, task_id=recent.number, target=None, refers_back=False)
            # "delete it" right after an edit may mean the edit: only a task just added or
            # shown alone is "it" for a delete or completion without asking.
            if command.intent in DESTRUCTIVE and recent.source not in ("add_task", "list_tasks"):
                return confirm(resolved)
            return resolved
    if named:
        return replace(command, refers_back=False)
    return Command(
        Intent.CLARIFY,
        message="Which task do you mean? Name it by number or title, for example: **task 3**"
        " or **the dentist task**.",
    )


def _resolve_tool_name(name: str, tools: Sequence[Tool]) -> str | None:
    """The name under which the Runner offers our tool `name`, or None when it is absent."""
    names = [str(getattr(tool, "name", "")) for tool in tools]
    if name in names:
        return name
    return next((offered for offered in names if canonical_name(offered) == name), None)


class OfflineModel(Model):
    """A rule-based stand-in for a language model (no AI): task commands become tool calls.

    `today` overrides the date that "tomorrow" and "friday" count from (tests).
    """

    def __init__(self, settings: Settings, today: Callable[[], date] | None = None) -> None:
        self.settings = settings
        self._today = today or (lambda: settings_today(settings))

    async def _parsed(self, input: str | list[TResponseInputItem], tools: list[Tool]) -> OutputItem:
        """`_output`, in a worker thread: parsing is linear in the message, but a 4,000
        character message is still milliseconds of regex work that must not hold up every
        other request on the event loop."""
        return await asyncio.to_thread(self._output, input, tools)

    def _output(self, input: str | list[TResponseInputItem], tools: list[Tool]) -> OutputItem:
        step = next_step(input, self._today())
        if isinstance(step, ToolRequest):
            name = _resolve_tool_name(step.name, tools)
            if name is not None:
                return function_call_item(name, step.arguments)
            step = Reply(
                f"I can't reach the task tools right now (`{step.name}` is not available),"
                " so I couldn't do that. Please try again in a moment."
            )
        return message_item(step.text)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Parse the turn so far and return one tool call or one reply."""
        output = await self._parsed(input, tools)
        return ModelResponse(
            output=[output], usage=Usage(requests=1), response_id=f"resp_{uuid.uuid4().hex}"
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """The same step as `get_response`, as Responses API stream events (text word by word)."""
        output = await self._parsed(input, tools)
        for event in response_events(output, f"resp_{uuid.uuid4().hex}", MODEL_NAME):
            yield event
            # Let the consumer render each delta before the next one arrives.
            await asyncio.sleep(0)
