"""One turn's `TurnEvent`s as ChatKit thread stream events.

Tool calls become tasks of a workflow item (shown while they run, folded into a summary when
the reply starts), with a progress line while each runs; a call that shows tasks adds its
widget once it returns (`widgets.py`), and one that changed tasks sends the client effect
`tasks_changed` (the page's task panel reloads). Text deltas stream into one assistant
message. Ids come from the turn's user message (see `items.py`), so what streams is what
`items.list` returns afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientEffectEvent,
    CustomTask,
    ErrorEvent,
    ProgressUpdateEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)

from taskpilot.agent.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
)
from taskpilot.chatkit.items import (
    REPLY,
    TOOLS,
    WIDGET,
    item_id,
    running_words,
    task_annotations,
    tool_task,
    widget_item,
    workflow_summary,
)
from taskpilot.data.models import ToolCall
from taskpilot.mcp.tools import TASK_CHANGING, canonical_name

# The client effect sent when a tool call changed the person's tasks.
TASKS_CHANGED = "tasks_changed"


def _now() -> datetime:
    return datetime.now(UTC)


class TurnTranslator:
    """Translates one turn's events; keeps only what that turn's items need."""

    def __init__(
        self, thread_id: str, turn: int, now: Callable[[], datetime] = _now, earlier: int = 0
    ) -> None:
        self.thread_id = thread_id
        self.turn = turn
        # Calls an earlier attempt at this turn made: stored before this attempt's.
        self._earlier = earlier
        self._now = now
        self._workflow: WorkflowItem | None = None
        self._workflows = 0
        self._running: dict[str, int] = {}  # call id → task index in the open workflow
        self._calls: dict[str, int] = {}  # call id → its place in the turn (as stored)
        self._reply: AssistantMessageItem | None = None

    def translate(self, event: TurnEvent) -> list[ThreadStreamEvent]:
        """The ChatKit events for one turn event (none for `started`)."""
        if isinstance(event, ToolStarted):
            return self._tool_started(event)
        if isinstance(event, ToolFinished):
            return self._tool_finished(event)
        if isinstance(event, TextDelta):
            return self._text(event.delta)
        if isinstance(event, TurnDone):
            return self._done(event.response, event.tool_calls)
        if isinstance(event, TurnError):
            return self._error(event.message)
        return []

    def _tool_started(self, event: ToolStarted) -> list[ThreadStreamEvent]:
        self._calls.setdefault(event.call_id, self._earlier + len(self._calls) + 1)
        progress = ProgressUpdateEvent(text=f"{running_words(event.name)}…", icon="bolt")
        return [*self._task_started(event), progress]

    def _task_started(self, event: ToolStarted) -> list[ThreadStreamEvent]:
        task = tool_task(ToolCall.model_validate(event.model_dump()), running=True)
        if self._workflow is None:
            self._workflows += 1
            self._workflow = WorkflowItem(
                id=item_id(TOOLS, self.turn, self._workflows),
                thread_id=self.thread_id,
                created_at=self._now(),
                workflow=Workflow(type="custom", tasks=[task], expanded=True),
            )
            self._running[event.call_id] = 0
            return [ThreadItemAddedEvent(item=self._workflow)]
        tasks = self._workflow.workflow.tasks
        tasks.append(task)
        self._running[event.call_id] = len(tasks) - 1
        update = WorkflowTaskAdded(task=task, task_index=len(tasks) - 1)
        return [ThreadItemUpdatedEvent(item_id=self._workflow.id, update=update)]

    def _tool_finished(self, event: ToolFinished) -> list[ThreadStreamEvent]:
        index = self._running.pop(event.call_id, None)
        if self._workflow is None or index is None:
            return []  # a result without its start (never sent by the agent service)
        call = ToolCall.model_validate(event.model_dump())
        task = tool_task(call)
        self._workflow.workflow.tasks[index] = task
        update = WorkflowTaskUpdated(task=task, task_index=index)
        events: list[ThreadStreamEvent] = [
            ThreadItemUpdatedEvent(item_id=self._workflow.id, update=update)
        ]
        place = self._calls.get(event.call_id, 1)
        widget = widget_item(item_id(WIDGET, self.turn, place), self.thread_id, self._now(), call)
        if widget is not None:
            events.append(ThreadItemDoneEvent(item=widget))
        if not call.is_error and canonical_name(call.name) in TASK_CHANGING:
            data: dict[str, Any] = {"tool": canonical_name(call.name)}
            if isinstance(call.result, dict) and isinstance(call.result.get("task_id"), int):
                data["task_id"] = call.result["task_id"]
            events.append(ClientEffectEvent(name=TASKS_CHANGED, data=data))
        return events

    def _end_workflow(self) -> list[ThreadStreamEvent]:
        workflow, self._workflow = self._workflow, None
        self._running.clear()
        if workflow is None:
            return []
        tasks = [task for task in workflow.workflow.tasks if isinstance(task, CustomTask)]
        for task in tasks:
            if task.status_indicator == "loading":  # a call the turn never got an answer to
                task.status_indicator = "none"
        workflow.workflow.summary = workflow_summary(tasks)
        workflow.workflow.expanded = False
        return [ThreadItemDoneEvent(item=workflow)]

    def _text(self, delta: str) -> list[ThreadStreamEvent]:
        events = self._end_workflow()
        if self._reply is None:
            self._reply = AssistantMessageItem(
                id=item_id(REPLY, self.turn),
                thread_id=self.thread_id,
                created_at=self._now(),
                content=[],
            )
            events.append(ThreadItemAddedEvent(item=self._reply))
            events.append(
                self._update(
                    AssistantMessageContentPartAdded(
                        content_index=0, content=AssistantMessageContent(text="")
                    )
                )
            )
        events.append(
            self._update(AssistantMessageContentPartTextDelta(content_index=0, delta=delta))
        )
        return events

    def _update(self, update: Any) -> ThreadItemUpdatedEvent:
        assert self._reply is not None
        return ThreadItemUpdatedEvent(item_id=self._reply.id, update=update)

    def _done(self, response: str, calls: list[ToolCall]) -> list[ThreadStreamEvent]:
        events = self._end_workflow()
        if self._reply is None and not response:
            return events
        # The tasks the reply talks about, as stored replies are annotated (`items.py`).
        annotations = task_annotations(response, calls)
        content = AssistantMessageContent(text=response, annotations=annotations)
        if self._reply is None:  # a replayed answer: nothing streamed
            self._reply = AssistantMessageItem(
                id=item_id(REPLY, self.turn),
                thread_id=self.thread_id,
                created_at=self._now(),
                content=[content],
            )
        else:
            events.append(
                self._update(AssistantMessageContentPartDone(content_index=0, content=content))
            )
        self._reply.content = [content]
        events.append(ThreadItemDoneEvent(item=self._reply))
        return events

    def _error(self, message: str) -> list[ThreadStreamEvent]:
        # No half reply is stored, so none stays on screen; the reason is the error's message.
        events = self._end_workflow()
        if self._reply is not None:
            events.append(ThreadItemRemovedEvent(item_id=self._reply.id))
            self._reply = None
        events.append(ErrorEvent(code="custom", message=message, allow_retry=True))
        return events
