"""One turn's `TurnEvent`s as ChatKit thread stream events.

Tool calls become tasks of a workflow item (shown while they run, folded into a summary when
the reply starts); text deltas stream into one assistant message. Ids come from the turn's
user message (see `items.py`), so what streams is what `items.list` returns afterwards.
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
    CustomTask,
    ErrorEvent,
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
from taskpilot.chatkit.items import REPLY, TOOLS, item_id, tool_task, workflow_summary
from taskpilot.data.models import ToolCall


def _now() -> datetime:
    return datetime.now(UTC)


class TurnTranslator:
    """Translates one turn's events; keeps only what that turn's items need."""

    def __init__(self, thread_id: str, turn: int, now: Callable[[], datetime] = _now) -> None:
        self.thread_id = thread_id
        self.turn = turn
        self._now = now
        self._workflow: WorkflowItem | None = None
        self._workflows = 0
        self._running: dict[str, int] = {}  # call id → task index in the open workflow
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
            return self._done(event.response)
        if isinstance(event, TurnError):
            return self._error(event.message)
        return []

    def _tool_started(self, event: ToolStarted) -> list[ThreadStreamEvent]:
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
        task = tool_task(ToolCall.model_validate(event.model_dump()))
        self._workflow.workflow.tasks[index] = task
        update = WorkflowTaskUpdated(task=task, task_index=index)
        return [ThreadItemUpdatedEvent(item_id=self._workflow.id, update=update)]

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

    def _done(self, response: str) -> list[ThreadStreamEvent]:
        events = self._end_workflow()
        if self._reply is None and not response:
            return events
        content = AssistantMessageContent(text=response)
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
