"""A conversation reads in id order, so a question's reply must take its id before the next
question can: the turn store's steps against a real PostgreSQL, with the moment between
`finish`'s two statements held open."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import Message
from taskpilot.runtime import Runtime
from taskpilot.services.conversations import ConversationNotFound, ConversationStore
from taskpilot.services.turns import Claim, ConversationBusy, TurnStore
from taskpilot.services.users import UserService
from tests.support.harness import make_settings, truncate_postgres

LEASE = timedelta(seconds=20)


async def locks_waited_on(runtime: Runtime) -> int:
    async with runtime.db.session() as session:
        found = await session.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
        return int(found.scalar_one())


async def started_turn(runtime: Runtime) -> tuple[str, str, Message]:
    """Ada, her conversation, and its question, running."""
    async with runtime.db.session() as session:
        ada = (await UserService(session).sign_up("ada@example.com", "password123")).id
        conversation = await ConversationStore(session, ada).create("Plans")
        first, _ = await TurnStore(session, ada, LEASE).open(conversation, "hi", None, new=False)
    return ada, conversation.id, first


class Held:
    """A transaction held open after its first statement, until `go_on`: a session `hold`s
    it; `between` is set once that statement has run."""

    def __init__(self) -> None:
        self.between, self.go_on = asyncio.Event(), asyncio.Event()

    def hold(self, session: AsyncSession) -> AsyncSession:
        for name in ("execute", "exec"):
            run = getattr(session, name)

            async def held(*args: Any, run: Any = run, **kwargs: Any) -> Any:
                result = await run(*args, **kwargs)
                if not self.between.is_set():
                    self.between.set()
                    await self.go_on.wait()
                return result

            setattr(session, name, held)
        return session


async def finish(
    runtime: Runtime, ada: str, conversation_id: str, first: Message, held: Held | None = None
) -> Any:
    """Store the reply to `first` (`TurnStore.finish`) in a transaction of its own, `held`
    open after its first statement if given."""
    async with runtime.db.session() as session:
        turns = TurnStore(held.hold(session) if held else session, ada, LEASE)
        return await turns.finish(Claim(first.id or 0, 1), conversation_id, "hello!", [])


async def delete_while_held(
    runtime: Runtime, ada: str, conversation_id: str, held: Held, holding: Awaitable[Any]
) -> Any:
    """Delete the conversation while `holding`'s transaction is `held` open: the delete must
    wait on it, then both finish (no deadlock) and the conversation is gone. What `holding`
    returned."""
    holder = asyncio.ensure_future(holding)
    await asyncio.wait_for(held.between.wait(), 5)

    async def delete() -> None:
        async with runtime.db.session() as session:
            await ConversationStore(session, ada).delete(conversation_id)

    deleting = asyncio.create_task(delete())
    async with asyncio.timeout(5):  # the delete waits on the held transaction
        while not await locks_waited_on(runtime):
            await asyncio.sleep(0.02)
    held.go_on.set()
    result = await asyncio.wait_for(holder, 10)
    await asyncio.wait_for(deleting, 10)
    async with runtime.db.session() as session:
        with pytest.raises(ConversationNotFound):
            await ConversationStore(session, ada).get(conversation_id)
    return result


@pytest.mark.postgres
async def test_a_question_stored_as_a_reply_is_stored_comes_after_that_reply(
    postgres_url: str, running: Any
) -> None:
    """The next question, sent in the moment the running turn's reply is being stored, is
    either refused (asked again, it comes after) or stored after the reply. Storing the
    question's change before the reply, the next question waited on that change with its id
    already taken: question, question, reply, reply (seen by CI under load)."""
    truncate_postgres(postgres_url)
    runtime: Runtime = await running(Runtime(make_settings(postgres_url)))
    ada, conversation_id, first = await started_turn(runtime)
    held = Held()

    async def ask_next() -> Message | None:
        async with runtime.db.session() as session:
            store = ConversationStore(session, ada)
            try:
                message, _ = await TurnStore(session, ada, LEASE).open(
                    await store.touch(conversation_id), "and now?", None, new=False
                )
            except ConversationBusy:
                return None
            return message

    finishing = asyncio.create_task(finish(runtime, ada, conversation_id, first, held))
    await asyncio.wait_for(held.between.wait(), 5)
    asking = asyncio.create_task(ask_next())
    async with asyncio.timeout(5):  # until it is refused, or waits on the reply's transaction
        while not asking.done() and not await locks_waited_on(runtime):
            await asyncio.sleep(0.02)
    held.go_on.set()
    reply, asked = await finishing, await asking
    assert reply is not None and reply.id is not None
    assert asked is None or (asked.id or 0) > reply.id
    async with runtime.db.session() as session:
        messages = await ConversationStore(session, ada).messages(conversation_id)
    assert [m.role for m in messages][:2] == ["user", "assistant"]


@pytest.mark.postgres
async def test_a_reply_waits_for_a_question_being_stored_in_its_conversation(
    postgres_url: str, running: Any
) -> None:
    """A question being stored holds its conversation's row from before its id is taken
    (`touch`): the reply waits for it, so it cannot take an id in the moment between the
    question's id and its check against the running turn (it is then refused)."""
    truncate_postgres(postgres_url)
    runtime: Runtime = await running(Runtime(make_settings(postgres_url)))
    ada, conversation_id, first = await started_turn(runtime)
    async with runtime.db.session() as session:
        conversation = await ConversationStore(session, ada).touch(conversation_id)

        finishing = asyncio.create_task(finish(runtime, ada, conversation_id, first))
        async with asyncio.timeout(5):
            while not await locks_waited_on(runtime):
                assert not finishing.done(), "the reply did not wait for the question"
                await asyncio.sleep(0.02)
        with pytest.raises(ConversationBusy):
            await TurnStore(session, ada, LEASE).open(conversation, "and now?", None, new=False)
    reply = await asyncio.wait_for(finishing, 5)
    assert reply is not None


@pytest.mark.postgres
async def test_a_conversation_deleted_as_its_reply_is_stored_is_deleted_whole(
    postgres_url: str, running: Any
) -> None:
    """Deleting a conversation while its reply is being stored: both finish, in turn, and
    the conversation is gone. The delete takes the conversation's row before its messages,
    as the reply does; the other way round, each waited on the other (a deadlock)."""
    truncate_postgres(postgres_url)
    runtime: Runtime = await running(Runtime(make_settings(postgres_url)))
    ada, conversation_id, first = await started_turn(runtime)
    held = Held()
    finishing = finish(runtime, ada, conversation_id, first, held)
    reply = await delete_while_held(runtime, ada, conversation_id, held, finishing)
    assert reply is not None


@pytest.mark.postgres
async def test_a_conversation_deleted_as_a_retry_discards_its_reply_is_deleted_whole(
    postgres_url: str, running: Any
) -> None:
    """ChatKit's retry discards a reply (then marks its question failed) while the person
    deletes the conversation: both finish, in turn. The discard takes the conversation's row
    first, as the delete does; without it, the delete took the question and waited on the
    reply, the discard the other way round (a deadlock)."""
    truncate_postgres(postgres_url)
    runtime: Runtime = await running(Runtime(make_settings(postgres_url)))
    ada, conversation_id, first = await started_turn(runtime)
    reply = await finish(runtime, ada, conversation_id, first)
    assert reply is not None
    held = Held()

    async def discard() -> None:
        async with runtime.db.session() as session:
            await ConversationStore(held.hold(session), ada).discard_reply(reply)

    await delete_while_held(runtime, ada, conversation_id, held, discard())
