"""ChatKitState: the /chatkit page, where OpenAI's ChatKit component does the chatting.

The component talks to ChatKit itself (TaskPilot's ChatKit server, or a hosted workflow);
this state tells it how (from settings, never a key: the hosted mode's secrets come from
`/api/chatkit/sessions`), and hears back what the page cares about: which thread is open, when
a reply starts and ends (the task panel then reloads), errors, and a script that won't load.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from taskpilot.agent.providers import describe_model
from taskpilot.agent.tool_words import MAX_SHOWN_ERROR, shortened
from taskpilot.chatkit.stream import TASKS_CHANGED
from taskpilot.core.config import ChatKitMode
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.runtime import get_runtime
from taskpilot.services.users import AccountError, UserService
from taskpilot.web.routes import chatkit_path, replace_url, thread_id_from_path
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.tasks import TaskState

CHATKIT_API = "/api/chatkit"
CHATKIT_SESSIONS = "/api/chatkit/sessions"
PLACEHOLDER = "Ask about your tasks, or tell me what to add"
HOSTED_NOTE = "Answered by the hosted ChatKit workflow."


class ChatKitState(AuthState):
    """How the ChatKit component reaches ChatKit, and what it has reported."""

    mode: rx.Field[str] = rx.field("")  # "" until the page has loaded
    domain_key: rx.Field[str] = rx.field("")
    script_url: rx.Field[str] = rx.field("")
    locale: rx.Field[str] = rx.field("")
    disclaimer: rx.Field[str] = rx.field("")
    initial_thread: rx.Field[str] = rx.field("")
    thread_id: rx.Field[str] = rx.field("")
    # Where the composer's @-mentions look for the person's tasks (the tasks API).
    tasks_path: rx.Field[str] = rx.field("")
    ready: rx.Field[bool] = rx.field(False)
    responding: rx.Field[bool] = rx.field(False)
    problem: rx.Field[str] = rx.field("")
    unavailable: rx.Field[bool] = rx.field(False)

    @rx.var
    def script_host(self) -> str:
        """The host ChatKit's script comes from, to name in the offline notice."""
        return self.script_url.split("//", 1)[-1].split("/", 1)[0]

    @rx.event
    async def load_page(self) -> Any:
        """On `/chatkit` and `/chatkit/<thread>`: check the token, then configure ChatKit."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        settings = get_runtime().settings
        tasks = await self.get_state(TaskState)
        try:
            async with get_runtime().db.session() as session:
                user = await UserService(session).ensure(identity)
        except AccountError:
            return await self._sign_out()
        except DatabaseUnavailable:
            self.problem = DATABASE_DOWN
            return None
        self.user_name, self.user_email = user.display_name, user.email
        ask_zone = self._ask_zone(user)  # first: the task panel marks "overdue" in it
        await tasks._reload(user.id)
        self.mode = settings.resolved_chatkit_mode.value
        self.domain_key = settings.chatkit_domain_key
        self.script_url = settings.chatkit_script_url
        self.locale = settings.chatkit_locale or ""
        hosted = settings.resolved_chatkit_mode is ChatKitMode.HOSTED
        self.disclaimer = HOSTED_NOTE if hosted else describe_model(settings)
        self.initial_thread = thread_id_from_path(self.router.url.path)
        self.thread_id = self.initial_thread
        self.tasks_path = f"/api/{user.id}/tasks"
        self.problem = ""
        self.unavailable = False
        self.ready = False
        self.responding = False
        return ask_zone

    @rx.event
    def chatkit_ready(self) -> None:
        """ChatKit has drawn itself."""
        self.ready = True
        self.unavailable = False

    @rx.event
    def thread_changed(self, thread_id: str) -> Any:
        """Another thread is open: name it in the URL (without reloading), so a reload or a
        shared link opens it again."""
        self.thread_id = thread_id
        return replace_url(chatkit_path(thread_id))

    @rx.event
    def response_started(self) -> None:
        """A reply is streaming."""
        self.responding = True
        self.problem = ""

    @rx.event
    def response_ended(self) -> Any:
        """The reply is done: the agent may have changed tasks, so the panel reloads."""
        self.responding = False
        return TaskState.load_tasks

    @rx.event
    def task_clicked(self, task_id: int) -> Any:
        """A task ChatKit shows (a reply's annotation, a mention) was clicked: point at it in
        the task panel."""
        return TaskState.highlight(task_id)  # type: ignore[operator]

    @rx.event
    def chatkit_effect(self, name: str) -> Any:
        """A client effect from ChatKit: `tasks_changed` (a tool or a widget's button changed
        tasks, mid-turn) reloads the task panel; other names mean nothing here."""
        return TaskState.load_tasks if name == TASKS_CHANGED else None

    @rx.event
    def chatkit_failed(self, message: str) -> None:
        """ChatKit reported an error; show it, briefly and as text."""
        self.responding = False
        self.problem = shortened(message, MAX_SHOWN_ERROR) or "ChatKit reported a problem."

    @rx.event
    def script_unavailable(self, script_url: str) -> None:
        """ChatKit's script could not be loaded: the page says so and offers the native chat."""
        self.unavailable = True
