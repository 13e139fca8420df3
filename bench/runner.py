"""Runs every measurement on each database and collects the results for the report."""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import sqlalchemy as sa

from bench.breakdown import Breakdown, measure_breakdown
from bench.databases import (
    BenchDatabase,
    libpq_url,
    postgres_admin_url,
    postgres_database,
    postgres_unreachable,
    sqlite_database,
)
from bench.machine import environment
from bench.mcp_cost import McpResult, measure_mcp
from bench.profiling import Profile, profile_turns
from bench.stack import ChatStack, chat_stack
from bench.turns import TurnTiming, Variant, measure_floor, measure_history, measure_turns

HISTORY_SIZES = (10, 1000)
AS_SHIPPED = "as shipped"
NO_FLUSH = "synchronous_commit = off"


@dataclass(frozen=True)
class RunConfig:
    """How much to measure. `quick()` is the CI smoke size, `full()` the reported one."""

    turns: int
    warmup: int
    mcp_iterations: int
    mcp_warmup: int
    stdio_iterations: int
    breakdown_turns: int
    profile_turns: int
    skip_postgres: bool
    quick: bool

    @classmethod
    def full(cls, turns: int = 200, skip_postgres: bool = False) -> RunConfig:
        """The sizes the results file reports."""
        return cls(turns, 20, 100, 10, 10, min(turns, 100), min(turns, 100), skip_postgres, False)

    @classmethod
    def quick_smoke(cls, turns: int = 15, skip_postgres: bool = False) -> RunConfig:
        """A few iterations of everything, for CI (well under a minute)."""
        return cls(turns, 5, 10, 2, 1, min(turns, 15), min(turns, 10), skip_postgres, True)


@dataclass
class DatabaseResults:
    """Everything measured on one database (or why it was skipped)."""

    label: str
    skipped: str | None = None
    version: str = ""
    turn_json: TurnTiming | None = None
    turn_sse: TurnTiming | None = None
    commit_what_if: dict[str, TurnTiming] = field(default_factory=dict)
    """AS_SHIPPED and NO_FLUSH JSON turns, alternating (PostgreSQL only)."""
    floor: TurnTiming | None = None
    history: dict[int, TurnTiming] = field(default_factory=dict)
    breakdown: Breakdown | None = None
    profile: Profile | None = None
    mcp: list[McpResult] = field(default_factory=list)


@dataclass
class RunResults:
    """One benchmark run: its configuration, the machine, and per-database results."""

    config: RunConfig
    started: datetime
    environment: dict[str, str]
    databases: list[DatabaseResults]
    seconds: float = 0.0

    def database(self, label: str) -> DatabaseResults | None:
        """The results for a database label ("SQLite", "PostgreSQL"), if it was run."""
        return next((db for db in self.databases if db.label == label), None)


def log(message: str) -> None:
    """Progress on stderr, so a long run shows where it is."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _postgres_version(url: str) -> str:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


async def run_database(database: BenchDatabase, config: RunConfig) -> DatabaseResults:
    """Every measurement on one fresh database."""
    results = DatabaseResults(database.label)
    results.version = (
        f"SQLite {sqlite3.sqlite_version}"
        if database.label == "SQLite"
        else _postgres_version(database.url)
    )
    async with chat_stack(database) as stack:
        clock = time.monotonic()
        log(f"{database.label}: {config.warmup} + {config.turns} turns, JSON and SSE alternating")
        turns = await measure_turns(
            [Variant("JSON", stack), Variant("SSE", stack, stream=True)],
            config.turns,
            config.warmup,
        )
        results.turn_json, results.turn_sse = turns["JSON"], turns["SSE"]
        log(f"{database.label}: JSON p50 {results.turn_json.summary.p50:.1f} ms")
        results.floor = await measure_floor(stack, config.turns, config.warmup)
        log(f"{database.label}: history {HISTORY_SIZES} messages, {config.turns} turns each")
        results.history = await measure_history(stack, HISTORY_SIZES, config.turns, config.warmup)
        log(f"{database.label}: breakdown over {config.breakdown_turns} instrumented turns")
        results.breakdown = await measure_breakdown(stack, config.breakdown_turns, config.warmup)
        log(f"{database.label}: cProfile over {config.profile_turns} turns")
        results.profile = await profile_turns(stack, config.profile_turns, config.warmup)
        log(f"{database.label}: MCP transports, {config.mcp_iterations} iterations each")
        results.mcp = await measure_mcp(
            stack, config.mcp_iterations, config.mcp_warmup, config.stdio_iterations
        )
        if database.label == "PostgreSQL":
            log(f"{database.label}: what-if synchronous_commit = off, {config.turns} turns each")
            results.commit_what_if = await _without_commit_flush(stack, database, config)
        log(f"{database.label}: done in {time.monotonic() - clock:.0f} s")
    return results


async def _without_commit_flush(
    stack: ChatStack, database: BenchDatabase, config: RunConfig
) -> dict[str, TurnTiming]:
    """The JSON turn as shipped, alternating with a second runtime on the same database whose
    connections set `synchronous_commit = off`.

    Not a recommendation: the pair shows how much of a turn is commits waiting for the WAL
    flush on this machine's disk.
    """
    url = sa.make_url(database.url).update_query_dict({"options": "-c synchronous_commit=off"})
    no_flush = BenchDatabase(database.label, url.render_as_string(hide_password=False))
    async with chat_stack(no_flush) as other:
        return await measure_turns(
            [Variant(AS_SHIPPED, stack), Variant(NO_FLUSH, other)], config.turns, config.warmup
        )


async def run(config: RunConfig) -> RunResults:
    """Run the benchmark on SQLite and (unless skipped or unreachable) PostgreSQL."""
    clock = time.monotonic()
    results = RunResults(config, datetime.now(UTC), environment(), [])
    with sqlite_database() as database:
        log(f"{database.label}: fresh database migrated")
        results.databases.append(await run_database(database, config))
    admin = postgres_admin_url()
    reason = "--skip-postgres was given" if config.skip_postgres else postgres_unreachable(admin)
    if reason is not None:
        log(f"skipping PostgreSQL: {reason}")
        results.databases.append(DatabaseResults("PostgreSQL", skipped=reason))
    else:
        with postgres_database(admin) as database:
            log(f"{database.label}: fresh throwaway database migrated")
            results.databases.append(await run_database(database, config))
    results.seconds = time.monotonic() - clock
    return results
