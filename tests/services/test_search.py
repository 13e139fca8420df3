"""Search across a person's conversations, on a real SQLite file (FTS5) and a real PostgreSQL
(full text with GIN indexes): the same behaviour on both."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from taskpilot.core.db import Database
from taskpilot.data.models import Message, Role
from taskpilot.runtime import Runtime
from taskpilot.services.conversations import ConversationStore
from taskpilot.services.search import (
    MAX_TERMS,
    ConversationSearch,
    SearchHit,
    TextPart,
    marked_parts,
    search_terms,
    snippet,
)
from taskpilot.services.users import UserService
from tests.support.hostile_corpus import MARKUP, ODD_UNICODE, SQL_INJECTION, UNSTORABLE


async def new_user(db: Database, email: str) -> str:
    async with db.session() as session:
        return (await UserService(session).sign_up(email, "password123")).id


async def chat(db: Database, user_id: str, title: str, *lines: str) -> str:
    """A conversation with these messages (question, answer, ...); its id."""
    async with db.session() as session:
        conversation = await ConversationStore(session, user_id).create(title)
        for number, line in enumerate(lines):
            role = Role.USER if number % 2 == 0 else Role.ASSISTANT
            session.add(
                Message(conversation_id=conversation.id, user_id=user_id, role=role, content=line)
            )
        await session.commit()
        return conversation.id


async def search(db: Database, user_id: str, query: str, limit: int = 20) -> list[SearchHit]:
    async with db.session() as session:
        return await ConversationSearch(session, user_id).search(query, limit)


def marked(parts: list[TextPart]) -> list[str]:
    return [part.text for part in parts if part.marked]


def shown(parts: list[TextPart]) -> str:
    return "".join(part.text for part in parts)


async def test_titles_and_messages_are_found_by_the_starts_of_their_words(
    runtime: Runtime,
) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    garden = await chat(
        db, ada, "Garden", "water the ferns every monday", "Added task 1: Water the ferns."
    )
    groceries = await chat(db, ada, "Groceries for the week", "buy milk and eggs")
    ferns_title = await chat(db, ada, "Ferns and mosses", "what should I plant")

    hits = await search(db, ada, "fern")
    # The title match first, then the message match; each with where it matched.
    assert [hit.conversation.id for hit in hits] == [ferns_title, garden]
    assert hits[0].message_id is None and hits[0].snippet == []
    assert marked(hits[0].title) == ["Ferns"] and shown(hits[0].title) == "Ferns and mosses"
    assert hits[1].message_id is not None and marked(hits[1].snippet) == ["ferns"]
    assert marked(hits[1].title) == []

    # Every word must match, each as the start of a word, in any case.
    assert [h.conversation.id for h in await search(db, ada, "WAT fer")] == [garden]
    assert [h.conversation.id for h in await search(db, ada, "eggs MILK")] == [groceries]
    # ... in one place: the title, or one message.
    assert await search(db, ada, "milk week") == []
    assert await search(db, ada, "fern milk") == []
    # No stemming and no infixes: only starts of words.
    assert await search(db, ada, "ferny") == []
    assert await search(db, ada, "ern") == []
    assert await search(db, ada, "watered") == []
    # Nothing to look for: no words, no results (and no query).
    assert await search(db, ada, "") == []
    assert await search(db, ada, "  --  ") == []


async def test_the_snippet_comes_from_the_best_matching_message(runtime: Runtime) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    await chat(
        db,
        ada,
        "Plans",
        "remind me about the dentist",
        "Sure. " + "Lots of other words here. " * 8 + "The dentist, yes.",
        "dentist dentist: move the dentist to friday",
        "Done.",
    )
    [hit] = await search(db, ada, "dentist")
    assert shown(hit.snippet) == "dentist dentist: move the dentist to friday"
    assert marked(hit.snippet) == ["dentist"] * 3

    await chat(db, ada, "Twins", "call the plumber", "ok", "call the plumber", "ok")
    [twins] = await search(db, ada, "plumber")
    async with db.session() as session:
        newest = await session.scalar(
            sa.select(sa.func.max(col(Message.id))).where(
                col(Message.content) == "call the plumber"
            )
        )
    assert twins.message_id == newest  # of equals, the newest


async def test_another_persons_conversations_never_appear(runtime: Runtime) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    bob = await new_user(db, "bob@example.com")
    mine = await chat(db, ada, "Ferns", "water the ferns")
    theirs = await chat(db, bob, "Ferns", "water the ferns")
    await chat(db, bob, "Secret plans", "the secret is xylophone")

    assert [h.conversation.id for h in await search(db, ada, "ferns water")] == [mine]
    assert [h.conversation.id for h in await search(db, bob, "ferns water")] == [theirs]
    assert await search(db, ada, "xylophone") == []
    assert await search(db, ada, "secret") == []
    # The person's id is no search word, and naming another's id in a query finds nothing.
    assert await search(db, ada, f'user_id : "{bob}"') == []
    assert await search(db, ada, f"user_id:{bob} xylophone") == []
    assert await search(db, "nobody", "ferns") == []


async def test_no_query_text_is_a_syntax_error(runtime: Runtime) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    garden = await chat(db, ada, "Garden", 'water the "ferns" every monday (or tuesday)')
    hostile = [
        '"',
        '"ferns',
        'ferns"',
        '""',
        "*",
        "ferns*",
        "*ferns",
        "NEAR",
        "NEAR(ferns water)",
        "ferns NEAR/2 water",
        "OR",
        "ferns OR",
        "AND NOT",
        "-",
        "-ferns",
        "ferns -water",
        ":",
        "content:ferns",
        "ferns:*",
        "'",
        "ferns'",
        "\\",
        "ferns\\",
        "(",
        "ferns)",
        "{ferns}",
        "^ferns",
        "!ferns & | <-> <2>",
        "🌿🌿",
        "ferns 🌿",
        "x" * 1000,
        "ferns " * 200,
        *SQL_INJECTION,
        *MARKUP,
        *ODD_UNICODE,
        *UNSTORABLE,
    ]
    for query in hostile:
        hits = await search(db, ada, query)
        assert all(hit.conversation.id == garden for hit in hits), query
    # Punctuation around a word is no syntax: the word is still looked for.
    for query in ['"ferns', "ferns*", "-ferns", "ferns:*", "(ferns)", "ferns 🌿"]:
        assert [h.conversation.id for h in await search(db, ada, query)] == [garden], query
    assert [h.conversation.id for h in await search(db, ada, "ferns " * 200)] == [garden]
    assert await search(db, ada, "NEAR(ferns water)") == []  # "near" is a word like any


async def test_words_are_found_with_or_without_their_accents(runtime: Runtime) -> None:
    """ "zoe" finds "Zoë" and "cafe" finds "Café", and the other way round, on both databases
    (PostgreSQL found only the spelling as written: its `simple` words kept their accents)."""
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    plans = await chat(db, ada, "Crème brûlée", "meet at the Café near Zoë's")
    plain = await chat(db, ada, "Creme", "ask zoe about the cafe")
    for query in ("zoe", "Zoë", "ZOË cafe", "café", "CAFE", "crème", "creme"):
        assert {h.conversation.id for h in await search(db, ada, query)} == {plans, plain}, query
    [hit] = await search(db, ada, "creme brulee")
    assert hit.conversation.id == plans
    assert marked(hit.title) == ["Crème", "brûlée"]


async def test_deleted_conversations_vanish_and_renamed_ones_are_found_by_their_new_title(
    runtime: Runtime,
) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    doomed = await chat(db, ada, "Taxes", "file the quarterly taxes")
    kept = await chat(db, ada, "Chores", "sweep the porch")
    async with db.session() as session:
        await ConversationStore(session, ada).delete(doomed)
        await ConversationStore(session, ada).rename(kept, "Spring cleaning")
    assert await search(db, ada, "taxes") == []
    assert await search(db, ada, "quarterly") == []
    assert await search(db, ada, "chores") == []
    [renamed] = await search(db, ada, "spring")
    assert renamed.conversation.id == kept and marked(renamed.title) == ["Spring"]
    assert [h.conversation.id for h in await search(db, ada, "porch")] == [kept]


async def test_a_changed_message_is_found_by_its_new_words(runtime: Runtime) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    garden = await chat(db, ada, "Garden", "water the ferns")
    async with db.session() as session:
        await session.execute(
            sa.update(Message)
            .where(col(Message.conversation_id) == garden)
            .values(content="prune the roses")
        )
        # Other columns change often (a running turn's lease): the words stay indexed.
        await session.execute(
            sa.update(Message).where(col(Message.conversation_id) == garden).values(attempt=2)
        )
        await session.commit()
    assert await search(db, ada, "ferns") == []
    assert [h.conversation.id for h in await search(db, ada, "roses")] == [garden]


async def test_results_are_bounded_and_most_recent_first(runtime: Runtime) -> None:
    db = runtime.db
    ada = await new_user(db, "ada@example.com")
    ids = [await chat(db, ada, f"Day {n}", f"log entry number {n}") for n in range(6)]
    hits = await search(db, ada, "entry", limit=4)
    assert [h.conversation.id for h in hits] == ids[::-1][:4]
    async with db.session() as session:
        await ConversationStore(session, ada).touch(ids[0])
        await session.commit()
    assert (await search(db, ada, "entry", limit=1))[0].conversation.id == ids[0]


def test_queries_are_read_as_words() -> None:
    assert search_terms('"water" the-ferns* OR NEAR(x)') == [
        "water",
        "the",
        "ferns",
        "OR",
        "NEAR",
        "x",
    ]
    assert search_terms("Fern fern FERN") == ["Fern"]
    assert search_terms("🌿 \u0301 -- ' \\") == []  # a lone accent is no word
    assert search_terms("caf\u0065\u0301") == ["café"]  # composed
    assert len(search_terms(" ".join(f"w{n}" for n in range(100)))) == MAX_TERMS
    assert search_terms("x" * 1000) == ["x" * 64]


def test_snippets_are_text_parts_cut_between_words() -> None:
    text = " ".join(f"word{n}" for n in range(60)) + " the ferns\n\nneed water " + "tail " * 60
    parts = snippet(text, ["fern", "wat"])
    assert parts[0] == TextPart(text="…") and parts[-1] == TextPart(text="…")
    assert marked(parts) == ["ferns", "water"]
    body = shown(parts[1:-1])
    assert len(body) <= 160 and "\n" not in body
    assert body.startswith("word") and body.endswith("tail")  # whole words
    # Short text is shown whole; markup in a message is text like any other.
    assert shown(snippet("<b>ferns</b> & <i>more</i>", ["fern"])) == "<b>ferns</b> & <i>more</i>"
    assert marked(snippet("<b>ferns</b>", ["fern"])) == ["ferns"]
    assert snippet("no match here", ["zebra"]) == [TextPart(text="no match here")]
    # As both indexes compare words: any case, without diacritics.
    assert marked(marked_parts("Café CAFÉS cafeteria", ["cafe"])) == ["Café", "CAFÉS", "cafeteria"]
    long_word = "x" * 400
    assert len(shown(snippet(long_word, ["x"]))) <= 161
