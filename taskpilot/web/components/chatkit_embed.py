"""OpenAI's ChatKit web component as a Reflex component.

`ChatKitEmbed` wraps `chatkit_embed.jsx` (beside this file), which calls `@openai/chatkit-react`'s
`useChatKit` hook with options built from these typed props. ChatKit's events that matter to
the page reach Reflex state through the `on_*` triggers.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import no_args_event_spec, passthrough_event_spec

# Pinned: @openai/chatkit-react renders <openai-chatkit> and hands it options; the element
# itself is defined by ChatKit's script (CHATKIT_SCRIPT_URL), which no npm package ships.
CHATKIT_REACT = "@openai/chatkit-react@1.6.1"


class ChatKitEmbed(rx.Component):
    """The ChatKit component, talking to TaskPilot's ChatKit server or a hosted workflow."""

    library = rx.asset("chatkit_embed.jsx", shared=True).importable_path
    tag = "TaskPilotChatKit"
    lib_dependencies: list[str] = [CHATKIT_REACT]  # noqa: RUF012 - Reflex's own attribute

    # How to reach ChatKit: "self-hosted" (TaskPilot's ChatKit server at `api_path`, with
    # `domain_key`) or "hosted" (client secrets from `session_path`); `token` signs requests.
    mode: rx.Var[str]
    api_path: rx.Var[str]
    session_path: rx.Var[str]
    domain_key: rx.Var[str]
    token: rx.Var[str]
    # Where ChatKit's web component script comes from.
    script_url: rx.Var[str]
    # What it looks like and says: "light"/"dark", the start screen's greeting and prompts
    # ({label, prompt, icon}), the composer's placeholder, a line under it, the UI language.
    color_scheme: rx.Var[str]
    greeting: rx.Var[str]
    prompts: rx.Var[list[dict[str, str]]]
    placeholder: rx.Var[str]
    disclaimer: rx.Var[str]
    locale: rx.Var[str]
    # The thread to open first ("" for a new one).
    initial_thread: rx.Var[str]
    # Which of ChatKit's own parts to show: its thread history (with rename and delete),
    # thumbs up/down and retry on replies; and a fixed header title ("": the thread's title).
    show_history: rx.Var[bool]
    feedback: rx.Var[bool]
    retry: rx.Var[bool]
    header_title: rx.Var[str]
    # Where the composer's @-mentions search the person's tasks (`GET /api/{user}/tasks`).
    tasks_path: rx.Var[str]

    # ChatKit's events: ready, another thread shown (its id, "" for a new one), a reply
    # started / ended, an error (its message); and the script failing to load (its URL).
    on_ready: rx.EventHandler[no_args_event_spec]
    on_thread_change: rx.EventHandler[passthrough_event_spec(str)]
    on_response_start: rx.EventHandler[no_args_event_spec]
    on_response_end: rx.EventHandler[no_args_event_spec]
    # A client effect the server sent (its name, e.g. "tasks_changed"); a widget's button that
    # changed a task is reported as "tasks_changed" too (its answer carries no effect).
    on_effect: rx.EventHandler[passthrough_event_spec(str)]
    on_error: rx.EventHandler[passthrough_event_spec(str)]
    on_unavailable: rx.EventHandler[passthrough_event_spec(str)]
    # A task ChatKit shows (a reply's annotation, a mention's tag) was clicked: its number.
    on_task_click: rx.EventHandler[passthrough_event_spec(int)]


chatkit_embed = ChatKitEmbed.create
