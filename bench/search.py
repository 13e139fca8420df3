"""`python -m bench.search`: how long "Search chats" takes on SQLite (FTS5) and PostgreSQL (GIN).

Each database is fresh and migrated (`bench/databases.py`). The person who searches has
`--messages` messages (default 10,000) in conversations of 20, and a second person as many
more with the same words (so the index holds both and every query must be narrowed to one
person). Texts are drawn from a fixed vocabulary with a seeded random generator: some words
are common, most rare. Each query runs through `ConversationSearch.search` on a real session,
a few untimed times first, then `--runs` timed times; the table gives median and p95 in ms.

    python -m bench.search                  both databases, written to bench/SEARCH.md
    python -m bench.search --skip-postgres  SQLite only
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.databases import (
    BenchDatabase,
    postgres_admin_url,
    postgres_database,
    postgres_unreachable,
    sqlite_database,
)
from bench.stack import bench_settings
from bench.stats import Summary
from taskpilot.core.db import Database, sync_url
from taskpilot.data.models import Conversation, Message, User
from taskpilot.data.search_index import SEARCH_CONFIG
from taskpilot.services.search import ConversationSearch

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "SEARCH.md"
PER_CONVERSATION = 20
WARM_UP = 3
# What is looked for: (label, query).
QUERIES = [
    ("frequent word (1 in 4 messages)", "ferns"),
    ("rare word (1 in 2,000)", "xylophone"),
    ("two words (1 in 400)", "water monday"),
    ("two-letter prefix", "wa"),
    ("no match", "zebracorn"),
    ("hostile text", '"NEAR * OR -: ' + "🌿" * 10),
]
# Each message holds each of these words with this probability.
PLANTED = {"ferns": 1 / 4, "water": 1 / 20, "monday": 1 / 20, "xylophone": 1 / 2000}


def _text(rng: random.Random, vocabulary: list[str]) -> str:
    words = rng.choices(vocabulary, k=rng.randint(6, 30))
    for word, chance in PLANTED.items():
        if rng.random() < chance:
            words.insert(rng.randrange(len(words) + 1), word)
    return " ".join(words).capitalize() + "."


def fill(url: str, messages: int, seed: int = 16) -> str:
    """Two people with `messages` messages each; the first one's id."""
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choices("abcdefghijklmnoprstuvwy", k=rng.randint(3, 9))) for _ in range(3000)
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    people = [f"bench-person-{n}" for n in range(2)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(User.__table__),  # type: ignore[attr-defined]
            [{"id": p, "email": f"{p}@example.com", "created_at": start} for p in people],
        )
        message_id = 0
        for person in people:
            conversations, rows = [], []
            for n in range(messages // PER_CONVERSATION):
                cid = f"{person}-c{n}"
                when = start + timedelta(minutes=n)
                conversations.append(
                    {
                        "id": cid,
                        "user_id": person,
                        "title": " ".join(rng.choices(vocabulary, k=3)),
                        "created_at": when,
                        "updated_at": when,
                    }
                )
                for turn in range(PER_CONVERSATION):
                    message_id += 1
                    rows.append(
                        {
                            "id": message_id,
                            "conversation_id": cid,
                            "user_id": person,
                            "role": "user" if turn % 2 == 0 else "assistant",
                            "content": _text(rng, vocabulary),
                            "tool_calls": [],
                            "status": "answered",
                            "created_at": when,
                        }
                    )
            conn.execute(sa.insert(Conversation.__table__), conversations)  # type: ignore[attr-defined]
            conn.execute(sa.insert(Message.__table__), rows)  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return people[0]


async def measure(
    database: BenchDatabase, person: str, runs: int
) -> list[tuple[str, int, Summary]]:
    """Each query's result count and timings."""
    db = Database(bench_settings(database.url))
    measured = []
    try:
        for label, query in QUERIES:
            times = []
            for attempt in range(WARM_UP + runs):
                began = time.perf_counter()
                async with db.session() as session:
                    hits = await ConversationSearch(session, person).search(query, 30)
                if attempt >= WARM_UP:
                    times.append((time.perf_counter() - began) * 1000)
            measured.append((label, len(hits), Summary.of_ms(times)))
    finally:
        await db.engine.dispose()
    return measured


def plan(database: BenchDatabase, person: str) -> str:
    """PostgreSQL's plan for the message part of a common-word query: the GIN index's name
    when it is used."""
    engine = sa.create_engine(sync_url(database.url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "EXPLAIN SELECT id FROM messages WHERE user_id = :u AND"
                " search_vector @@ to_tsquery(CAST(:config AS regconfig), 'ferns:*')"
            ),
            {"u": person, "config": SEARCH_CONFIG},
        ).scalars()
        text = "\n".join(rows)
    engine.dispose()
    return text


def main(argv: list[str] | None = None) -> int:
    """Run and write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    lines = [
        "# Search chats: query time",
        "",
        f"Written by `python -m bench.search` ({datetime.now(UTC):%Y-%m-%d}). The searching person"
        f" has {args.messages:,} messages in conversations of {PER_CONVERSATION}; a second person"
        f" has as many, with the same words. {args.runs} timed runs per query after {WARM_UP}"
        " untimed; the time is the whole service call (session, query, snippets), in ms.",
        "",
        "| database | query | results | median | p95 |",
        "|---|---|---|---|---|",
    ]
    notes: list[str] = []
    plans: list[str] = []
    with ExitStack() as stack:
        databases = [stack.enter_context(sqlite_database())]
        admin = postgres_admin_url()
        if args.skip_postgres:
            notes.append("PostgreSQL skipped (--skip-postgres).")
        elif reason := postgres_unreachable(admin):
            notes.append(f"PostgreSQL skipped: {reason}")
        else:
            databases.append(stack.enter_context(postgres_database(admin)))
        for database in databases:
            began = time.perf_counter()
            person = fill(database.url, args.messages)
            notes.append(
                f"{database.label}: filled with {2 * args.messages:,} messages (indexed as they"
                f" were inserted) in {time.perf_counter() - began:.1f} s."
            )
            for label, count, summary in asyncio.run(measure(database, person, args.runs)):
                lines.append(
                    f"| {database.label} | {label} | {count} |"
                    f" {summary.p50:.1f} | {summary.p95:.1f} |"
                )
            if database.label == "PostgreSQL":
                plans += ["", "PostgreSQL's plan for the messages of a common word:", "", "```"]
                plans += [plan(database, person), "```"]
    text = "\n".join([*lines, "", *(f"- {note}" for note in notes), *plans, ""])
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
