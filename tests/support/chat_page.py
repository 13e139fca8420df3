"""The chat page as the tests see it: only the names and test ids of docs/ui-contract.md."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from taskpilot.core.config import PROJECT_ROOT

SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
TOKEN_KEY = "taskpilot_token"
CONVERSATION_URL = re.compile(r"/c/([^/?#]+)/?$")
HOME_URL = re.compile(r"^https?://[^/]+/?$")
LOGIN_URL = re.compile(r"/login/?$")
SIGNUP_URL = re.compile(r"/signup/?$")


def conversation_url(conversation_id: str) -> re.Pattern[str]:
    """The URL of one conversation (the static server may add a trailing slash)."""
    return re.compile(f"/c/{re.escape(conversation_id)}/?$")


@dataclass
class Account:
    """A TaskPilot account the tests created."""

    email: str
    password: str
    token: str
    id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class ChatPage:
    """One browser tab on TaskPilot, with the contract's locators and a few actions."""

    page: Page
    base_url: str
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    # What the page's content-security policy blocked (none: the policy breaks nothing).
    csp_violations: list[str] = field(default_factory=list)

    # --- locators (docs/ui-contract.md) -------------------------------------------------------
    @property
    def composer(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message", exact=True)

    @property
    def send_button(self) -> Locator:
        return self.page.get_by_role("button", name="Send", exact=True)

    @property
    def stop_button(self) -> Locator:
        return self.page.get_by_role("button", name="Stop", exact=True)

    @property
    def char_count(self) -> Locator:
        return self.page.get_by_test_id("char-count")

    @property
    def log(self) -> Locator:
        return self.page.get_by_role("log", name="Messages")

    @property
    def user_messages(self) -> Locator:
        return self.page.get_by_test_id("message-user")

    @property
    def assistant_messages(self) -> Locator:
        return self.page.get_by_test_id("message-assistant")

    @property
    def tool_cards(self) -> Locator:
        return self.page.get_by_test_id("tool-card")

    @property
    def turn_error(self) -> Locator:
        return self.page.get_by_test_id("turn-error")

    @property
    def history(self) -> Locator:
        return self.page.get_by_role("navigation", name="Conversations")

    @property
    def conversation_items(self) -> Locator:
        return self.history.get_by_test_id("conversation-item")

    @property
    def tasks_panel(self) -> Locator:
        return self.page.get_by_role("complementary", name="Tasks")

    @property
    def task_items(self) -> Locator:
        return self.tasks_panel.get_by_test_id("task-item")

    @property
    def prompt_chips(self) -> Locator:
        return self.page.get_by_test_id("prompt-chip")

    @property
    def model_note(self) -> Locator:
        return self.page.get_by_test_id("model-note")

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def conversation_item(self, text: str) -> Locator:
        return self.conversation_items.filter(has_text=text)

    def task_item(self, text: str) -> Locator:
        return self.task_items.filter(has_text=text)

    # --- navigation -----------------------------------------------------------------------------
    def goto(self, path: str = "/") -> ChatPage:
        self.page.goto(self.base_url + path)
        return self

    def open_chat(self, path: str = "/") -> ChatPage:
        """Open a chat route and wait until the composer can be used."""
        self.goto(path)
        expect(self.composer).to_be_editable()
        return self

    @property
    def conversation_id(self) -> str | None:
        found = CONVERSATION_URL.search(self.page.url)
        return found.group(1) if found else None

    def wait_for_conversation_url(self) -> str:
        """The id in `/c/<id>`, once the URL has it."""
        self.page.wait_for_url(CONVERSATION_URL)
        conversation_id = self.conversation_id
        assert conversation_id
        return conversation_id

    # --- actions ------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Type a message and press Enter."""
        expect(self.composer).to_be_editable()
        self.composer.fill(text)
        self.composer.press("Enter")

    def expect_user_messages(self, texts: list[str]) -> None:
        """Exactly these user messages, in order (a bubble holds exactly its text)."""
        expect(self.user_messages).to_have_count(len(texts))
        if texts:
            expect(self.user_messages).to_have_text(texts)

    def wait_until_idle(self, timeout: float = 20_000) -> None:
        """No reply streaming: no `data-streaming="true"`, no Stop button, composer usable."""
        expect(self.page.locator('[data-streaming="true"]')).to_have_count(0, timeout=timeout)
        expect(self.stop_button).to_have_count(0, timeout=timeout)
        expect(self.composer).to_be_editable(timeout=timeout)

    def ensure_tasks_panel(self) -> Locator:
        """The task panel, opened with "Toggle tasks" if it is not showing."""
        expect(self.composer).to_be_editable()  # the signed-in layout is on screen
        if not self.tasks_panel.is_visible():
            self.button("Toggle tasks").click()
        expect(self.tasks_panel).to_be_visible()
        return self.tasks_panel

    def ensure_history(self) -> Locator:
        """The conversation list, opened with "Toggle history" if it is not showing."""
        expect(self.composer).to_be_editable()  # the signed-in layout is on screen
        if not self.history.is_visible():
            self.button("Toggle history").click()
        expect(self.history).to_be_visible()
        return self.history

    def filter_tasks(self, choice: str) -> None:
        """Pick All / Pending / Completed in the task panel's "Filter tasks" control."""
        control = self.tasks_panel.get_by_label("Filter tasks")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(label=choice)
            return
        option = control.get_by_role("radio", name=choice, exact=True)
        option = option.or_(control.get_by_role("tab", name=choice, exact=True))
        option.or_(control.get_by_role("button", name=choice, exact=True)).click()

    def conversation_options(self, item: Locator, choice: str) -> None:
        """Open an item's "Conversation options" menu and pick `choice`."""
        item.hover()
        item.get_by_role("button", name="Conversation options").click()
        self.page.get_by_role("menuitem", name=choice).click()

    def sample_text(self, locator: Locator, *, until_gone: str, seconds: float) -> list[str]:
        """The text of `locator` every 40 ms until `until_gone` matches nothing (or time's up)."""
        seen: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            seen.append(locator.inner_text() if locator.count() else "")
            if self.page.locator(until_gone).count() == 0 and seen[-1]:
                break
            self.page.wait_for_timeout(40)  # a sampling interval, not a wait for a state
        return seen

    def screenshot(self, name: str) -> Path:
        """Save the tab as test-artifacts/screenshots/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), animations="disabled")
        return path

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the document is wider than the viewport (0: no side-scroll)."""
        return int(
            self.page.evaluate(
                "() => Math.max(document.documentElement.scrollWidth,"
                " document.body.scrollWidth) - window.innerWidth"
            )
        )
