"""A long chat opens at its newest messages and scrolls back to its first: each "Show
earlier messages" loads the page before the earliest shown, in order, without repeats, until
there is nothing earlier. On SQLite and PostgreSQL, through the page's own handlers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from reflex_base.event import EventSpec

from taskpilot.core.config import Settings
from taskpilot.data.models import Conversation, Message, Role, TurnStatus, utcnow
from taskpilot.web.states.stored import MESSAGE_PAGE, message_element_id
from taskpilot.web.view_models import MessageView
from tests.support.harness import make_settings
from tests.support.web_states import Page, call


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Both databases: pages are read by message id, newest first, per person."""
    return make_settings(database_url)


async def long_chat(tab: Page, user_id: str, turns: int) -> str:
    """A conversation of `turns` answered questions ("question N", "answer N")."""
    start = utcnow() - timedelta(days=1)
    async with tab.runtime.db.session() as session:
        conversation = Conversation(user_id=user_id, title="A long chat")
        session.add(conversation)
        await session.flush()
        for n in range(1, turns + 1):
            at = start + timedelta(seconds=n)
            question = Message(
                conversation_id=conversation.id,
                user_id=user_id,
                role=Role.USER.value,
                content=f"question {n}",
                status=TurnStatus.ANSWERED.value,
                attempt=1,
                created_at=at,
            )
            session.add(question)
            await session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    user_id=user_id,
                    role=Role.ASSISTANT.value,
                    content=f"answer {n}",
                    reply_to_id=question.id,
                    created_at=at,
                )
            )
        await session.commit()
        return conversation.id


def shown(tab: Page) -> list[str]:
    return [message.content for message in tab.chat.messages]


def expected(first_turn: int, last_turn: int) -> list[str]:
    return [
        text for n in range(first_turn, last_turn + 1) for text in (f"question {n}", f"answer {n}")
    ]


async def test_a_long_chat_scrolls_back_to_its_first_message(tab: Page) -> None:
    user_id = await tab.sign_up()
    turns = MESSAGE_PAGE + MESSAGE_PAGE // 2 + 1  # 151 turns: 302 messages, four pages
    conversation_id = await long_chat(tab, user_id, turns)
    tab.visit(f"/c/{conversation_id}")
    await call(tab.chat, "load_page")
    assert shown(tab) == expected(turns - MESSAGE_PAGE // 2 + 1, turns)
    assert tab.chat.has_earlier

    pages = 1
    while tab.chat.has_earlier:
        first = tab.chat.messages[0].key
        follow_up = await call(tab.chat, "load_earlier")
        pages += 1
        # The message that was first in view stays in view.
        assert isinstance(follow_up, EventSpec)
        assert message_element_id(first) in str(follow_up.args)
        assert pages <= 4
    assert pages == 4
    assert shown(tab) == expected(1, turns)
    assert len({message.key for message in tab.chat.messages}) == 2 * turns
    assert await call(tab.chat, "load_earlier") is None  # nothing earlier: nothing happens


async def test_a_short_chat_has_nothing_earlier(tab: Page) -> None:
    user_id = await tab.sign_up()
    conversation_id = await long_chat(tab, user_id, MESSAGE_PAGE // 2)  # exactly one page
    tab.visit(f"/c/{conversation_id}")
    await call(tab.chat, "load_page")
    assert shown(tab) == expected(1, MESSAGE_PAGE // 2)
    assert not tab.chat.has_earlier


async def test_earlier_messages_are_only_ever_the_signed_in_persons(
    tab: Page, another_tab: Any
) -> None:
    """Eve, on Ada's conversation's address, sees no message of it, earlier or not."""
    ada = await tab.sign_up()
    conversation_id = await long_chat(tab, ada, MESSAGE_PAGE)
    eve = another_tab()
    await eve.sign_up("eve@example.com", "Eve")
    eve.visit(f"/c/{conversation_id}")
    await call(eve.chat, "load_page")
    assert eve.chat.missing and eve.chat.messages == [] and not eve.chat.has_earlier
    # Even with a forged page naming Ada's newest message, nothing of Ada's is read.
    newest = 2 * MESSAGE_PAGE + 10  # past every id Ada's chat has
    forged = MessageView(key="forged", id=newest, content="mine")
    eve.chat.has_earlier, eve.chat.current_id, eve.chat.messages = True, conversation_id, [forged]
    assert await call(eve.chat, "load_earlier") is None
    assert shown(eve) == ["mine"] and not eve.chat.has_earlier
