"""Operations metrics for Prometheus: the one place they are defined and rendered.

Everything an operator alerts on: turns by outcome and how long they took, how long the model
and each tool took, turns queued for a worker place or for their conversation, refusals (503
busy, 429 by kind) and the database pool. Metric objects are made once, here, at import; the
code that counts only calls `inc`, `dec` or `observe` on them. No label ever holds a user,
conversation, message or anything a person typed: every label's values are a short fixed list
(an outcome, an error code, one of the MCP server's tool names).

**Several workers.** With `PROMETHEUS_MULTIPROC_DIR` set before a process starts (what
`python -m taskpilot.serve` does), prometheus_client keeps every value in memory-mapped files
in that directory, one set per process, and a scrape of any worker adds up all of them. The
library reads the variable when it is imported, so it is read here the same way rather than
through `Settings`. Counters and histograms of a worker that died stay in the sum (they count
what happened); its gauges (queues, pool use) are dropped at the next scrape.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from enum import StrEnum
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROCESS_DIR", "TurnOutcome", "render", "turn_ended"]

# Where the worker processes keep their values; None: this process alone (tests, `reflex run`).
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class TurnOutcome(StrEnum):
    """How a turn ended, as counted."""

    ANSWERED = "answered"  # the reply was stored
    FAILED = "failed"  # an error (its `code` says which); the question is kept, failed
    STOPPED = "stopped"  # Stop, the client leaving before it ran, or shutdown (`code` says)
    SUPERSEDED = "superseded"  # another attempt at the same message took it over
    REPLAYED = "replayed"  # a repeated message answered from the stored reply; no model call
    PAUSED = "paused"  # the run waits for the person to approve a tool call; stored


# Turns run for seconds to minutes (TURN_DEADLINE_SECONDS is 120 by default).
TURN_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
MODEL_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

TURNS = Counter(
    "taskpilot_turns",
    "Turns that ended, by outcome; `code` is the error code of a failed, stopped or"
    " superseded turn and empty otherwise.",
    ["outcome", "code"],
)
TURN_SECONDS = Histogram(
    "taskpilot_turn_duration_seconds",
    "Seconds from a turn's start (admitted and claimed) until its reply was stored or it"
    " failed, stopped or was superseded; replayed turns are not timed.",
    ["outcome"],
    buckets=TURN_BUCKETS,
)
MODEL_SECONDS = Histogram(
    "taskpilot_model_response_seconds",
    "Seconds from the agent turning to the model (the run's start, or a tool's result) until"
    " the model's response finished streaming, one per completed model response; includes the"
    " SDK preparing the request (listing the MCP tools). Failed model calls are counted in"
    " taskpilot_turns_total by their code instead.",
    buckets=MODEL_BUCKETS,
)
TOOL_SECONDS = Histogram(
    "taskpilot_tool_call_duration_seconds",
    "Seconds from a tool call appearing in the turn's stream until its result did, by tool"
    " and outcome (ok, or error: the tool refused or failed). `tool` is one of the MCP"
    " server's tools, or `unknown` for a name the model made up (never run).",
    ["tool", "outcome"],
    buckets=TOOL_BUCKETS,
)
TURNS_RUNNING = Gauge(
    "taskpilot_turns_running",
    "Turns running now (compare with WORKER_MAX_TURNS per worker).",
    multiprocess_mode="livesum",
)
TURNS_WAITING = Gauge(
    "taskpilot_turns_waiting",
    "Turns waiting now: for a place in a full worker (queue=worker, up to"
    " WORKER_QUEUE_SECONDS), or for the turn running in their conversation or on their"
    " message (queue=conversation, between its looks, up to TURN_WAIT_SECONDS).",
    ["queue"],
    multiprocess_mode="livesum",
)
TURNS_REFUSED = Counter(
    "taskpilot_turns_refused",
    "Turns refused before they started: busy (no worker place within WORKER_QUEUE_SECONDS,"
    " 503), shutting_down (503), turn_in_progress (the conversation stayed busy past"
    " TURN_WAIT_SECONDS, 409).",
    ["reason"],
)
RATE_LIMITED = Counter(
    "taskpilot_rate_limited",
    "Requests refused with 429, by the limit they hit: running_turns (MAX_CONCURRENT_TURNS),"
    " turns_per_minute (CHAT_TURNS_PER_MINUTE), hosted_sessions, sign_in (SIGN_IN_ATTEMPTS),"
    " requests (REQUESTS_PER_MINUTE), calendar_feed (feed fetches per client address).",
    ["kind"],
)
DB_POOL_CHECKED_OUT = Gauge(
    "taskpilot_db_pool_checked_out",
    "Database connections in use now. Requests wait (then 503 after DB_POOL_TIMEOUT) once it"
    " reaches DB_POOL_SIZE + DB_MAX_OVERFLOW per worker.",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "taskpilot_db_pool_size",
    "Connections the database pools keep open (DB_POOL_SIZE per worker that has connected;"
    " SQLAlchemy's default of 5 for a SQLite file).",
    multiprocess_mode="livesum",
)

# The label values known in advance, bound once: the hot path does no label lookup, and a
# series exists (at 0) before its first event, so a rate() alert on it works from the start.
WAITING_FOR_WORKER = TURNS_WAITING.labels(queue="worker")
WAITING_FOR_CONVERSATION = TURNS_WAITING.labels(queue="conversation")
REFUSED_BUSY = TURNS_REFUSED.labels(reason="busy")
REFUSED_SHUTTING_DOWN = TURNS_REFUSED.labels(reason="shutting_down")
REFUSED_TURN_IN_PROGRESS = TURNS_REFUSED.labels(reason="turn_in_progress")
LIMITED_RUNNING_TURNS = RATE_LIMITED.labels(kind="running_turns")
LIMITED_TURNS_PER_MINUTE = RATE_LIMITED.labels(kind="turns_per_minute")
LIMITED_HOSTED_SESSIONS = RATE_LIMITED.labels(kind="hosted_sessions")
LIMITED_SIGN_IN = RATE_LIMITED.labels(kind="sign_in")
LIMITED_REQUESTS = RATE_LIMITED.labels(kind="requests")
LIMITED_CALENDAR_FEED = RATE_LIMITED.labels(kind="calendar_feed")
TURNS_REPLAYED = TURNS.labels(outcome=TurnOutcome.REPLAYED, code="")
_ANSWERED = TURNS.labels(outcome=TurnOutcome.ANSWERED, code="")
_ANSWERED_SECONDS = TURN_SECONDS.labels(outcome=TurnOutcome.ANSWERED)


def turn_ended(outcome: TurnOutcome, code: str = "", started: float | None = None) -> None:
    """Count a turn that ended; with `started` (a `time.perf_counter()` reading), time it."""
    if outcome is TurnOutcome.ANSWERED:
        _ANSWERED.inc()
        if started is not None:
            _ANSWERED_SECONDS.observe(time.perf_counter() - started)
        return
    TURNS.labels(outcome, code).inc()
    if started is not None:
        TURN_SECONDS.labels(outcome).observe(time.perf_counter() - started)


# --- exposition ------------------------------------------------------------------------------

# A live gauge's file, named by its process: gauge_livesum_4711.db.
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


def render() -> bytes:
    """The metrics in Prometheus' text format: this process's, or in multiprocess mode every
    worker's added up (read from their files in MULTIPROCESS_DIR)."""
    directory = MULTIPROCESS_DIR
    if directory is None:
        return generate_latest(REGISTRY)
    _forget_dead_processes(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def _forget_dead_processes(directory: str) -> None:
    """Drop the gauges of workers that are gone (killed, or replaced by Granian): their last
    queue length or pool use would otherwise stay in the sum for good."""
    for path in Path(directory).iterdir():
        if (match := _LIVE_GAUGE_FILE.match(path.name)) is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            # Another worker's scrape may be removing the same files right now.
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(pid, directory)
        except PermissionError:  # alive, another user's
            continue
