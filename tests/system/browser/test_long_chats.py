"""A long chat in the browser: it opens at its newest messages, and scrolling up loads the
earlier ones by itself (or "Show earlier messages" does), keeping the place, until the first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from sqlmodel import Session

from taskpilot.data.models import Conversation, Message, Role, TurnStatus, utcnow
from taskpilot.web.states.stored import MESSAGE_PAGE
from tests.support.app_server import AppServer
from tests.support.chat_page import Account, ChatPage

pytestmark = pytest.mark.browser

TURNS = MESSAGE_PAGE + 1  # 202 messages: three pages


def long_chat(app: AppServer, account: Account) -> str:
    """`TURNS` answered questions in the app's database, written as the engine stores them."""
    engine = sa.create_engine(f"sqlite:///{app.database_path}")
    start = utcnow() - timedelta(days=1)
    with Session(engine) as session:
        conversation = Conversation(user_id=account.id, title="A long chat")
        session.add(conversation)
        session.flush()
        for n in range(1, TURNS + 1):
            at = start + timedelta(seconds=n)
            question = Message(
                conversation_id=conversation.id,
                user_id=account.id,
                role=Role.USER.value,
                content=f"question {n}",
                status=TurnStatus.ANSWERED.value,
                attempt=1,
                created_at=at,
            )
            session.add(question)
            session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    user_id=account.id,
                    role=Role.ASSISTANT.value,
                    content=f"answer {n}",
                    reply_to_id=question.id,
                    created_at=at,
                )
            )
        session.commit()
        conversation_id = conversation.id
    engine.dispose()
    return conversation_id


def test_scrolling_up_a_long_chat_reaches_its_first_message(
    open_page: Callable[..., ChatPage], account: Account, app: AppServer
) -> None:
    conversation_id = long_chat(app, account)
    chat = open_page(account).open_chat(f"/c/{conversation_id}")
    expect(chat.user_messages.last).to_have_text(f"question {TURNS}")
    expect(chat.user_messages).to_have_count(MESSAGE_PAGE // 2)
    earlier = chat.button("Show earlier messages")
    expect(earlier).to_be_attached()

    # Pressed: the page before arrives, and the message that was first stays in view.
    first_shown = chat.page.get_by_text(f"question {TURNS - MESSAGE_PAGE // 2 + 1}", exact=True)
    earlier.click()
    expect(chat.user_messages).to_have_count(MESSAGE_PAGE)
    expect(first_shown).to_be_in_viewport()

    # Scrolled: the rest comes by itself once the person reaches the top.
    messages = chat.page.get_by_role("log", name="Messages")
    for _ in range(40):
        if chat.user_messages.count() == TURNS:
            break
        messages.hover()
        chat.page.mouse.wheel(0, -4000)
        chat.page.wait_for_timeout(150)
    expect(chat.user_messages).to_have_count(TURNS)
    expect(chat.user_messages.first).to_have_text("question 1")
    expect(earlier).to_have_count(0)
