"""The pages build, and carry the names and test ids of docs/ui-contract.md.

The browser tests check behaviour; this catches a renamed label or test id at once."""

from __future__ import annotations

import re

import pytest
import reflex as rx

from taskpilot.core.config import PROJECT_ROOT
from taskpilot.web.components.markdown_view import markdown_view
from taskpilot.web.pages.auth import login_page, signup_page
from taskpilot.web.pages.chat import chat_page
from taskpilot.web.pages.chatkit import chatkit_page

CONTRACT = (PROJECT_ROOT / "docs" / "ui-contract.md").read_text()


def names(jsx: str, name: str) -> bool:
    """Whether the compiled page carries `name` whole, as a string of its own; a name ending in
    a space is followed by the task's number (`"Complete task "+…`)."""
    if name.endswith(" "):
        return f'("{name}"+' in jsx
    return f'"{name}"' in jsx


@pytest.fixture(scope="module")
def chat_jsx() -> str:
    return str(chat_page())


@pytest.fixture(scope="module")
def chatkit_jsx() -> str:
    return str(chatkit_page())


def test_every_test_id_in_the_contract_is_on_its_page(chat_jsx: str, chatkit_jsx: str) -> None:
    test_ids = set(re.findall(r"\[data-testid=([a-z-]+)\]", CONTRACT))
    assert test_ids >= {"conversation-item", "tool-card", "char-count", "model-note"}
    assert test_ids >= {"chatkit-unavailable", "chatkit-problem"}
    for test_id in test_ids:
        page = chatkit_jsx if test_id.startswith("chatkit-") else chat_jsx
        assert f'"{test_id}"' in page, test_id


def test_the_chatkit_page_wraps_chatkit_and_listens_to_it(chatkit_jsx: str) -> None:
    from taskpilot.web.components.chatkit_embed import CHATKIT_REACT, ChatKitEmbed

    assert "TaskPilotChatKit" in chatkit_jsx
    assert CHATKIT_REACT in ChatKitEmbed.lib_dependencies
    assert ChatKitEmbed.library.endswith("/chatkit_embed.jsx")
    for trigger in ("onThreadChange", "onResponseStart", "onResponseEnd", "onError"):
        assert trigger in chatkit_jsx, trigger
    for name in ("Toggle theme", "Toggle tasks", "Account menu", "Tasks", "TaskPilot chat"):
        assert names(chatkit_jsx, name), name


@pytest.mark.parametrize(
    "name",
    [
        "New chat",
        "Toggle history",
        "Toggle theme",
        "Toggle tasks",
        "Account menu",
        "Conversations",
        "Search chats",
        "No chats match",
        "Conversation options",
        "Conversation title",
        "Messages",
        "Copy message",
        "Retry",
        "Message",
        "Send",
        "Stop",
        "Tasks",
        "Filter tasks",
        "Complete task ",
        "Delete task ",
        "Approve",
        "Cancel",
        "Keyboard shortcuts",
        "Log out",
        "Rename",
        "Delete",
    ],
)
def test_accessible_names_are_on_the_chat_page(chat_jsx: str, name: str) -> None:
    assert names(chat_jsx, name)


def test_a_name_is_matched_whole() -> None:
    assert names('{"aria-label":"Messages"}', "Messages")
    assert not names('{"aria-label":"Messages"}', "Message")
    assert names('{"aria-label":("Delete task "+(id))}', "Delete task ")
    assert not names('{"aria-label":"Delete task 3"}', "Delete task ")


def test_auth_pages_have_labelled_fields_and_their_buttons() -> None:
    login, signup = str(login_page()), str(signup_page())
    for label in ('"Email"', '"Password"', '"Log in"'):
        assert label in login
    for label in ('"Name"', '"Email"', '"Password"', '"Create account"'):
        assert label in signup
    assert 'role:"alert"' in login.replace(" ", "") or '"alert"' in login


def test_markdown_never_renders_raw_html_and_code_blocks_have_copy(chat_jsx: str) -> None:
    assert "rehypeRaw" not in chat_jsx and "remarkGfm" in chat_jsx
    code = "".join(markdown_view(rx.Var("text", _var_type=str))._get_all_custom_code())
    assert '"Copy code"' in code


def test_register_adds_the_contract_routes() -> None:
    from taskpilot.web.pages import register

    added: list[tuple[str, str]] = []

    class App:
        def add_page(self, page: object, *, route: str, title: str, on_load: object) -> None:
            added.append((route, title))

    register(App())  # type: ignore[arg-type]
    assert [route for route, _ in added] == [
        "/",
        "/c/[conversation_id]",
        "/chatkit",
        "/chatkit/[thread_id]",
        "/login",
        "/signup",
    ]
