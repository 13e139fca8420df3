"""What a load run's figures say: the aim and whether it was met, and the findings (the
cost of a turn alone, the machine's capacity, what happens past saturation)."""

from __future__ import annotations

import math

from bench.load.results import AFTER, BEFORE, BETWEEN, LevelResult, LoadResults
from bench.report import number, table
from bench.stats import Summary

AIM_CONCURRENCY = 500
AIM_P95_OVERHEAD_MS = 100.0


def aim_level(results: LoadResults) -> LevelResult | None:
    """The level run at the aim's concurrency, if any."""
    return next((lv for lv in results.levels if lv.conversations == AIM_CONCURRENCY), None)


def aim_section(results: LoadResults) -> list[str]:
    """The aim, and whether this run met it."""
    level = aim_level(results)
    rows = []
    if level is None:
        rows.append([f"{AIM_CONCURRENCY} concurrent conversations", "not run", "–"])
    else:
        errors = sum(level.errors.values())
        p95 = Summary.of_ms(level.overhead).p95
        rows.append(
            [
                f"{AIM_CONCURRENCY} concurrent conversations, zero errors",
                f"{errors} errors in {len(level.samples)} turns",
                "**met**" if errors == 0 else "**not met**",
            ]
        )
        rows.append(
            [
                f"p95 server overhead under {AIM_P95_OVERHEAD_MS:.0f} ms at {AIM_CONCURRENCY}",
                f"{number(p95, 0)} ms",
                "**met**" if p95 < AIM_P95_OVERHEAD_MS else "**not met**",
            ]
        )
    return ["## The aim", "", *table(["Aim", "Measured", "Verdict"], rows)]


def findings(results: LoadResults) -> list[str]:
    """What this run's figures say."""
    if not results.levels:
        return []
    lines = ["## Findings", ""]
    busiest = max(results.levels, key=lambda lv: lv.turns_per_s)
    worker_ms = busiest.cpu_ms_per_turn("workers")
    machine_ms = busiest.cpu_ms_per_turn(
        "workers", "reflex main", "model double", "client", "postgres"
    )
    capacity = 2000 / machine_ms if machine_ms else math.nan
    model_s = 2 * results.config.call_ms / 1000
    think_s = results.config.think_s
    cycle_s = model_s + think_s  # one turn per reply plus the person's pause
    pause = "as soon as the reply ends" if not think_s else f"after a pause of ~{think_s:g} s"
    if results.baseline is not None:
        base = results.baseline
        over = Summary.of_ms(base.overhead)
        phase = {
            name: Summary.of_ms(base.phases.get(name, [])) for name in (BEFORE, BETWEEN, AFTER)
        }
        lines.append(
            f"- **Alone, a turn costs {number(over.p50, 0)} ms beyond the model** (p95"
            f" {number(over.p95, 0)} ms): {number(phase[BEFORE].p50, 0)} ms before the first"
            " model call,"
            f" {number(phase[BETWEEN].p50, 0)} ms between the calls (the MCP tool call),"
            f" {number(phase[AFTER].p50, 0)} ms after the reply (p50s). That is close to the"
            f" {AIM_P95_OVERHEAD_MS:.0f} ms aim before any concurrency: the workers spend"
            f" {number(base.cpu_ms_per_turn('workers'), 0)} ms of CPU per turn, and a turn's work"
            " is on its critical path."
        )
    lines.append(
        f"- **The workers are CPU-bound at {number(worker_ms, 0)} ms of CPU per turn** (at"
        f" {busiest.conversations} conversations, {busiest.turns_per_s:.1f} turns/s); with the"
        f" double, this client and PostgreSQL a turn takes {number(machine_ms, 0)} ms of the"
        f" machine's CPU, so these 2 cores serve at most ~{number(capacity, 0)} turns/s, and less"
        ' while other work shares them (the "other" column). A conversation that sends its'
        f" next message {pause} asks for one turn every ~{cycle_s:.1f} s +"
        f" overhead, so ~{number(capacity * cycle_s, 0)} such conversations fill the machine;"
        " beyond that, turns queue in the workers' event loops and the overhead is waiting,"
        " not work (the `/api/info` probe and the response head grow with it)."
    )
    aim = aim_level(results)
    if aim is not None:
        over = Summary.of_ms(aim.overhead)
        demand = aim.conversations / cycle_s
        who = (
            f"{aim.conversations} back-to-back conversations"
            if not think_s
            else f"{aim.conversations} conversations pausing ~{think_s:g} s"
        )
        lines.append(
            f"- **{who} ask for ~{demand:.0f} turns/s,"
            f" ~{demand / max(capacity, 1e-9):.0f}× what this machine can serve**: turns took"
            f" p50 {number(Summary.of_ms([s.total_ms for s in aim.ok]).p50 / 1000, 1)} s,"
            " overhead p95"
            f" {number(over.p95, 0)} ms, with {sum(aim.errors.values())} errors. The aim's p95"
            f" under {AIM_P95_OVERHEAD_MS:.0f} ms at that concurrency needs ~"
            f"{number(demand * machine_ms / 1000 / 0.6, 0)} cores at this CPU cost per turn (60%"
            " busy), or people who pause: at the capacity measured here,"
            f" {aim.conversations} conversations stay unqueued only if each person waits"
            f" ≥ ~{number(aim.conversations / max(capacity * 0.6, 1e-9) - model_s, 0)} s between"
            " turns."
            + (
                " It is a capacity limit, not a concurrency fault: no turn failed."
                if not aim.errors
                else " Capacity is the first limit; the errors below are the second."
            )
        )
        peaks = [aim.peak_rss[pid] - aim.rss_before.get(pid, math.nan) for pid in aim.peak_rss]
        if peaks:
            in_flight = aim.conversations / max(1, len(peaks))
            growth = max(peaks)
            lines.append(
                f"- **Memory stays small**: at {aim.conversations} conversations each worker's"
                f" RSS peaks {growth:.0f} MiB above its start (~{growth * 1024 / in_flight:.0f}"
                f" KiB per in-flight turn, {in_flight:.0f} per worker)."
            )
    lines += _overload_findings(results, capacity, model_s)
    others = [lv.cores.get("other", 0.0) for _, lv in results.all_levels()]
    if others and max(others) > 0.3:
        lines.append(
            f"- **This machine was shared**: other processes used {min(others):.1f}–"
            f'{max(others):.1f} of its 2 cores during the levels (the "other" column), so the'
            " workers had that much less; turns/s and queueing figures are worse than on an"
            " idle machine, and the per-turn CPU figures are the ones to carry elsewhere."
        )
    lines.append("")
    return lines


def _default(setting: str) -> str:
    """A TaskPilot setting's shipped default (for the ones the run leaves as they are)."""
    from taskpilot.core.config import Settings

    return str(Settings.model_fields[setting].default)


def _overload_findings(results: LoadResults, capacity: float, model_s: float) -> list[str]:
    """What happens past saturation, from the error kinds and the workers' log."""
    lines: list[str] = []
    best = max(results.levels, key=lambda lv: lv.turns_per_s)
    worst = max(results.levels, key=lambda lv: lv.conversations)
    signatures = worst.log_signatures
    pool = signatures.get("pool timeout (`QueuePool limit … timed out`)", 0)
    detached = signatures.get("`DetachedInstanceError`", 0)
    limits = signatures.get("rate limits not enforced (Redis call failed)", 0)
    errors = sum(worst.errors.values())
    cap = results.settings.get("WORKER_MAX_TURNS", _default("worker_max_turns"))
    if errors and worst is not best:
        kinds = ", ".join(f"{count} {kind}" for kind, count in worst.errors.most_common())
        falls = worst.turns_per_s < 0.9 * best.turns_per_s
        abandoned = (
            f"; turns whose clients gave up ran on {worst.settle_s:.0f} s after the level"
            if worst.settle_s > 2
            else ""
        )
        lines.append(
            "- **Past saturation, turns start failing**"
            + (" and throughput falls" if falls else "")
            + f": {best.turns_per_s:.1f} successful turns/s at {best.conversations}"
            f" conversations, {worst.turns_per_s:.1f} at {worst.conversations}, where {errors}"
            f" of {len(worst.samples)} turns failed ({kinds})."
            + (
                " That is the admission control at work: each worker runs at most"
                f" {cap} turns, the"
                " rest wait up to WORKER_QUEUE_SECONDS and then get a quick 503 with"
                " `Retry-After`, instead of every turn slowing down until the database pool"
                f" runs dry{abandoned}."
                if set(worst.errors) == {"HTTP 503"}
                else f" Turns that could not be served failed in other ways too{abandoned}."
            )
        )
    if pool:
        idle = worst.connections.get("idle_in_tx", math.nan)
        age = worst.connections.get("idle_in_tx_s", math.nan)
        lines.append(
            f"- **The database pools run dry** ({pool} `QueuePool limit` timeouts at"
            f" {worst.conversations}; up to {number(idle, 0)} connections `idle in transaction`,"
            f" one for {number(age, 1)} s). A turn needs a pooled connection only for a few"
            " statements, but each reply from PostgreSQL is handled when the worker's event"
            " loop gets round to it; with hundreds of turns queued on the loop that takes"
            " seconds, so checkouts last seconds and 30 connections per worker"
            " (`DB_POOL_SIZE` 10 + `DB_MAX_OVERFLOW` 20) run out: requests wait"
            " `DB_POOL_TIMEOUT` (10 s) and fail (a 503, an `error` event, or a tool error"
            " inside the turn). A bigger pool only moves the queue into PostgreSQL. The fix is"
            " admission control: a per-worker cap on running turns (an `asyncio.Semaphore`"
            " taken before `prepare` in `taskpilot/api/routes/chat.py` and released when the"
            " turn's task ends), sized from what a worker can serve (by Little's law about"
            f" {number(max(1.0, capacity * (model_s + 0.1) / max(1, results.config.workers)), 0)}"
            " turns per worker here; a setting, since it scales with the cores), with a"
            " bounded wait and then a 503 + `Retry-After`, so a worker past capacity queues or"
            " refuses quickly instead of failing everyone slowly."
        )
    if detached:
        lines.append(
            f"- **An ORM object was used after its session closed** ({detached}"
            f" `DetachedInstanceError`s at {worst.conversations}). A turn's steps pass ids,"
            " not rows, between sessions (`taskpilot/services/turns.py`); the log lines name"
            " the code that kept a row."
        )
    if limits:
        lines.append(
            f'- **Under overload the rate limits stop applying** ({limits} "rate limits not'
            ' enforced: Redis is unreachable" warnings at'
            f" {worst.conversations}; Redis was up). `taskpilot/core/limits/counters.py` gives its"
            " Redis client `socket_timeout=2`; a worker whose loop is seconds late misses it,"
            " and the limiter fails open and blames Redis. Failing open is the documented"
            " choice, but the timeout measures the worker, not Redis: admission control (above)"
            " keeps the loop prompt; the warning could say the call timed out."
        )
    return lines
