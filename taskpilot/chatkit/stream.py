"""One turn's `TurnEvent`s as ChatKit thread stream events.

Tool calls become tasks of a workflow item (shown while they run, folded into a summary when
the reply starts), with a progress line while each runs; a call that shows tasks adds its
widget once it returns (`widgets.py`), and one that changed tasks sends the client effect
`tasks_changed` (the page's task panel reloads). Text deltas stream into one assistant
message. Ids come from the turn's user message (see `items.py`), so what streams is what
`items.list` returns afterwards.

A turn that pauses for the person's approval (`ApprovalAsked`) shows the waiting call's
approval card (`widgets.approval_card`, asking) and ends its items there (`finish`). The
decision's own stream takes the turn up again (`Resumed`): the decided call's result redraws
its workflow (the calls before the pause and this one) and its card in place, and the reply
continues the one streamed before the pause, under the same ids. Cards show the task as it is
now: the server reads its row and hands it in (`tasks_for`, then `translate(event, tasks)`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)

from taskpilot.agent.events import (
    ApprovalAsked,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
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
from taskpilot.chatkit.widgets import approval_subject
from taskpilot.data.models import Approval, ToolCall
from taskpilot.mcp.tools import TASK_CHANGING, canonical_name
from taskpilot.services.public import TaskOut

# The client effect sent when a tool call changed the person's tasks.
TASKS_CHANGED = "tasks_changed"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Resumed:
    """A paused turn taken up with the person's decision: the decided call (its approval
    set), the turn's calls so far in their stored order (the decided one among them), and
    the reply streamed before the pause."""

    call: ToolCall
    calls: list[ToolCall] = field(default_factory=list)
    reply: str = ""


class TurnTranslator:
    """Translates one turn's events; keeps only what that turn's items need."""

    def __init__(
        self,
        thread_id: str,
        turn: int,
        now: Callable[[], datetime] = _now,
        earlier: int = 0,
        resumed: Resumed | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.turn = turn
        # Calls an earlier attempt at this turn made: stored before this attempt's.
        self._earlier = 0 if resumed else earlier
        self._now = now
        self._resumed = resumed
        self._workflow: WorkflowItem | None = None
        self._workflows = 0
        self._running: dict[str, int] = {}  # call id → task index in the open workflow
        self._calls: dict[str, int] = {}  # call id → its place in the turn (as stored)
        self._reply: AssistantMessageItem | None = None
        self._ended = False  # the reply is stored (`done`) or the turn failed (`error`)
        # What the reply has said so far, and the calls that returned (for its annotations).
        self._said = resumed.reply if resumed else ""
        self._returned = [c for c in resumed.calls if c.result is not None] if resumed else []
        for place, call in enumerate(resumed.calls if resumed else [], 1):
            self._calls[call.call_id] = place  # their cards keep the ids they were shown with
        if resumed is not None and resumed.reply:
            # Shown already (streamed before the pause, or listed since): continued in place.
            self._reply = AssistantMessageItem(
                id=item_id(REPLY, turn),
                thread_id=thread_id,
                created_at=now(),
                content=[AssistantMessageContent(text=resumed.reply)],
            )

    def tasks_for(self, event: TurnEvent) -> set[int]:
        """The numbers of the tasks whose rows `translate` needs for this event (an approval
        card shows its task as it is now)."""
        call: ToolCall | None = None
        if isinstance(event, ApprovalAsked):
            call = event.call
        elif isinstance(event, ToolFinished):
            call = self._decided(event)
        number = approval_subject(call) if call is not None else None
        return set() if number is None else {number}

    def translate(
        self, event: TurnEvent, tasks: Mapping[int, TaskOut] | None = None
    ) -> list[ThreadStreamEvent]:
        """The ChatKit events for one turn event; `tasks` are the rows `tasks_for` named."""
        if isinstance(event, TurnStarted):
            return self._started()
        if isinstance(event, ToolStarted):
            return self._tool_started(event)
        if isinstance(event, ToolFinished):
            decided = self._decided(event)
            if decided is not None:
                return self._decision(decided, tasks or {})
            return self._tool_finished(event)
        if isinstance(event, ApprovalAsked):
            return self._asked(event.call, tasks or {})
        if isinstance(event, TextDelta):
            return self._text(event.delta)
        if isinstance(event, TurnDone):
            return self._done(event.response, event.tool_calls)
        if isinstance(event, TurnError):
            return self._error(event.message)
        return []

    def finish(self) -> list[ThreadStreamEvent]:
        """The turn's stream ended without a reply (it paused for the person's approval):
        its workflow and the reply so far end here, as a reload shows them."""
        events = self._end_workflow()
        reply, self._reply = self._reply, None
        resumed = self._resumed.reply if self._resumed else ""
        if reply is None or self._ended or self._said == resumed:  # ended, or nothing new
            return events
        annotations = task_annotations(self._said, self._returned)
        content = AssistantMessageContent(text=self._said, annotations=annotations)
        reply.content = [content]
        done = AssistantMessageContentPartDone(content_index=0, content=content)
        events.append(ThreadItemUpdatedEvent(item_id=reply.id, update=done))
        events.append(ThreadItemDoneEvent(item=reply))
        return events

    def _started(self) -> list[ThreadStreamEvent]:
        resumed = self._resumed
        if resumed is None or resumed.call.approval is not Approval.APPROVED:
            return []
        # The approved call runs before anything else streams: say so meanwhile.
        return [ProgressUpdateEvent(text=f"{running_words(resumed.call.name)}…", icon="bolt")]

    def _decided(self, event: ToolFinished) -> ToolCall | None:
        """The decided call's result, with its approval (the resumed run streams no start)."""
        resumed = self._resumed
        if resumed is None or event.call_id != resumed.call.call_id:
            return None
        if event.call_id in self._running:
            return None
        return ToolCall.model_validate({**event.model_dump(), "approval": resumed.call.approval})

    def _decision(self, call: ToolCall, tasks: Mapping[int, TaskOut]) -> list[ThreadStreamEvent]:
        """The decided call returned: its workflow (the calls before the pause and this one)
        and its card redrawn in place; the workflow stays open for the calls that follow."""
        assert self._resumed is not None
        place = self._calls.setdefault(call.call_id, len(self._calls) + 1)
        calls = [call if c.call_id == call.call_id else c for c in self._resumed.calls] or [call]
        # The others still waiting are asked again, in place, if the run pauses again.
        for index, other in enumerate(calls):
            if other.approval is Approval.PENDING:
                self._running[other.call_id] = index
        self._returned.append(call)
        self._workflows = max(self._workflows, 1)
        self._workflow = WorkflowItem(
            id=item_id(TOOLS, self.turn),
            thread_id=self.thread_id,
            created_at=self._now(),
            workflow=Workflow(type="custom", tasks=[tool_task(c) for c in calls], expanded=True),
        )
        events: list[ThreadStreamEvent] = [
            ThreadItemReplacedEvent(item=self._workflow.model_copy(deep=True))
        ]
        card = widget_item(
            item_id(WIDGET, self.turn, place), self.thread_id, self._now(), call, tasks
        )
        if card is not None:
            events.append(ThreadItemReplacedEvent(item=card))
        events.extend(self._effect(call))
        return events

    def _asked(self, call: ToolCall, tasks: Mapping[int, TaskOut]) -> list[ThreadStreamEvent]:
        """The run paused at `call`: its workflow task waits, and its card asks."""
        place = self._calls.setdefault(call.call_id, self._earlier + len(self._calls) + 1)
        events: list[ThreadStreamEvent] = []
        index = self._running.pop(call.call_id, None)
        if self._workflow is not None:
            task, listed = tool_task(call), self._workflow.workflow.tasks
            update: WorkflowTaskUpdated | WorkflowTaskAdded
            if index is None:  # still waiting from before: a decided call's run paused again
                listed.append(task)
                update = WorkflowTaskAdded(task=task, task_index=len(listed) - 1)
            else:
                listed[index] = task
                update = WorkflowTaskUpdated(task=task, task_index=index)
            events.append(ThreadItemUpdatedEvent(item_id=self._workflow.id, update=update))
        card = widget_item(
            item_id(WIDGET, self.turn, place), self.thread_id, self._now(), call, tasks, True
        )
        if card is not None:
            events.append(ThreadItemDoneEvent(item=card))
        return events

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
        self._returned.append(call)
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
        events.extend(self._effect(call))
        return events

    @staticmethod
    def _effect(call: ToolCall) -> list[ThreadStreamEvent]:
        """`tasks_changed` when the call changed the person's tasks (a declined one did not)."""
        if call.is_error or call.approval in (Approval.PENDING, Approval.DECLINED):
            return []
        if canonical_name(call.name) not in TASK_CHANGING:
            return []
        data: dict[str, Any] = {"tool": canonical_name(call.name)}
        if isinstance(call.result, dict) and isinstance(call.result.get("task_id"), int):
            data["task_id"] = call.result["task_id"]
        return [ClientEffectEvent(name=TASKS_CHANGED, data=data)]

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
        self._said += delta
        events.append(
            self._update(AssistantMessageContentPartTextDelta(content_index=0, delta=delta))
        )
        return events

    def _update(self, update: Any) -> ThreadItemUpdatedEvent:
        assert self._reply is not None
        return ThreadItemUpdatedEvent(item_id=self._reply.id, update=update)

    def _done(self, response: str, calls: list[ToolCall]) -> list[ThreadStreamEvent]:
        self._ended = True
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
        self._ended = True
        events = self._end_workflow()
        if self._reply is not None:
            events.append(ThreadItemRemovedEvent(item_id=self._reply.id))
            self._reply = None
        events.append(ErrorEvent(code="custom", message=message, allow_retry=True))
        return events
