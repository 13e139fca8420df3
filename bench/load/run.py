"""A load run: sign up, warm up, the baseline, every level in turn (and an extra, profiled
one), with everything started before and stopped after."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench.databases import postgres_admin_url
from bench.load import worker_profile
from bench.load.clients import Account, HttpxClient, RawClient, TurnSample, make_client
from bench.load.config import LoadConfig, log
from bench.load.monitor import CpuReadings, Monitor, database_counters, log_signatures, rss_mb
from bench.load.processes import (
    DoubleProcess,
    Workers,
    load_database,
    model_double,
    postgres_version,
    prerequisites,
    redis_database,
    redis_url,
    server_settings,
    workers,
)
from bench.load.results import LevelResult, LoadResults
from bench.load.users import conversation, sign_up
from bench.machine import environment
from bench.stats import Summary

PROFILE_RATE = 100  # py-spy samples per second


async def run_level(
    config: LoadConfig,
    server: Workers,
    double: DoubleProcess,
    accounts: list[Account],
    conversations: int,
    turns: int,
) -> LevelResult:
    """`conversations` users at once, each a new conversation of `turns` turns."""
    pids = server.worker_pids()
    groups = {f"worker {index}": [pid] for index, pid in enumerate(pids)}
    groups.update(
        {
            "reflex main": [server.process.pid],
            "model double": [double.process.pid],
            "client": [os.getpid()],
        }
    )
    client = make_client(config.client, server.base_url, config.turn_timeout_s, conversations)
    double.calls(clear=True)
    samples: list[TurnSample] = []
    rss_before = {pid: rss_mb(pid) for pid in pids}
    database_before = await asyncio.to_thread(database_counters, server.database_url)
    log_offset = server.log_path.stat().st_size
    monitor = Monitor(server, pids).start()
    before = CpuReadings.take(groups)
    own = time.process_time()
    clock = time.monotonic()
    try:
        await asyncio.gather(
            *(
                conversation(
                    client,
                    account,
                    conversations,
                    turns,
                    config.ramp_s * index / conversations,
                    config.think_s,
                    samples,
                    clock + config.budget_s,
                )
                for index, account in enumerate(accounts[:conversations])
            )
        )
    finally:
        seconds = time.monotonic() - clock
        client_cpu = time.process_time() - own
        after = CpuReadings.take(groups)
        await monitor.stop()
        await client.close()
    await asyncio.sleep(1.5)  # let the double's last records land, and PostgreSQL's stats
    database = await asyncio.to_thread(database_counters, server.database_url)
    result = LevelResult(
        conversations=conversations,
        turns_each=turns,
        seconds=seconds,
        samples=samples,
        double_calls=await asyncio.to_thread(double.calls, True),
        cores=after.cores_since(before),
        peak_rss=monitor.peak_rss,
        rss_before=rss_before,
        lag_ms=monitor.lag_ms,
        probe_ms=monitor.probe_ms,
        probe_errors=monitor.probe_errors,
        client_cpu_s=client_cpu,
    )
    result.database = {k: v - database_before.get(k, 0) for k, v in database.items()}
    result.connections = monitor.connections
    result.planned = conversations * turns
    result.log_signatures = log_signatures(server.log_path, log_offset)
    result.match()
    return result


async def profile_level(
    config: LoadConfig,
    py_spy: str,
    server: Workers,
    double: DoubleProcess,
    accounts: list[Account],
    conversations: int,
    turns: int,
) -> LevelResult:
    """An extra, unreported level with py-spy sampling every worker (py-spy's own work
    would distort a measured level)."""
    level_task = asyncio.create_task(
        run_level(config, server, double, accounts, conversations, turns)
    )
    await asyncio.sleep(config.ramp_s + 1.0)
    profile = await worker_profile.record(
        py_spy, server.worker_pids(), config.profile_seconds, PROFILE_RATE
    )
    level = await level_task
    level.profile = profile
    return level


async def settle(double: DoubleProcess, quiet_s: float = 2.0, limit_s: float = 90.0) -> float:
    """Wait until the double has had no new call for `quiet_s` (turns whose clients gave up
    still run on the server); returns the seconds waited."""
    clock = time.monotonic()
    seen = -1
    while time.monotonic() - clock < limit_s:
        count = len(await asyncio.to_thread(double.calls, False))
        if count == seen:
            break
        seen = count
        await asyncio.sleep(quiet_s)
    return max(0.0, time.monotonic() - clock - quiet_s)


async def measure(
    config: LoadConfig, server: Workers, double: DoubleProcess, results: LoadResults
) -> None:
    """Sign up, warm up, then every level in turn."""
    most = max(config.levels)
    log(f"signing up {most} users")
    accounts, results.signup_s = await sign_up(server.base_url, most)
    results.accounts = len(accounts)
    log(f"signed up {most} users in {results.signup_s:.0f} s; warming up")
    warm = await run_level(config, server, double, accounts, config.warmup, 2)
    if warm.errors:
        log(f"warm-up errors: {dict(warm.errors)}")
    results.idle_rss = {pid: rss_mb(pid) for pid in server.worker_pids()}
    log(f"baseline: 1 conversation x {config.baseline_turns} turns")
    # The baseline is one conversation alone, back to back: the overhead with nothing to wait for.
    alone = dataclasses.replace(config, think_s=0.0, ramp_s=0.0, budget_s=90.0)
    results.baseline = await run_level(alone, server, double, accounts, 1, config.baseline_turns)
    for conversations, turns in zip(config.levels, config.turns, strict=True):
        log(f"{conversations} conversations x {turns} turns")
        level = await run_level(config, server, double, accounts, conversations, turns)
        results.levels.append(level)
        overhead = Summary.of_ms(level.overhead)
        log(
            f"  {len(level.ok)}/{len(level.samples)} ok, {level.turns_per_s:.1f} turns/s,"
            f" overhead p50 {overhead.p50:.0f} ms p95 {overhead.p95:.0f} ms,"
            f" errors {dict(level.errors) or 'none'}"
        )
        level.settle_s = await settle(double)
        if level.settle_s > 5:
            log(f"  the workers finished abandoned turns for {level.settle_s:.0f} s")
    if config.py_spy:
        count = min(config.profile_conversations, len(accounts))
        rate = results.levels[-1].turns_per_s if results.levels else 10.0
        turns = max(2, math.ceil(rate * (config.profile_seconds + config.ramp_s + 3) / count))
        log(f"profiling the workers with py-spy: {count} conversations x {turns} turns")
        results.profiled = await profile_level(
            config, config.py_spy, server, double, accounts, count, turns
        )
        if results.profiled.profile is None:
            results.profile_skipped = "py-spy recorded nothing (is ptrace allowed here?)"


def run(config: LoadConfig) -> LoadResults:
    """Start everything, measure, stop everything (whatever happens)."""
    clock = time.monotonic()
    admin = postgres_admin_url()
    redis = redis_url()
    if reason := prerequisites(admin, redis):
        raise SystemExit(f"bench.load cannot run: {reason}")
    client_name = RawClient.name if config.client == "raw" else HttpxClient.name
    results = LoadResults(config, datetime.now(UTC), environment(), client_name, {})
    results.postgres_version = postgres_version(admin)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="taskpilot-load-")))
        database_url = stack.enter_context(load_database(admin))
        stack.enter_context(redis_database(redis))
        double = stack.enter_context(model_double(config, workdir))
        settings = server_settings(config, database_url, redis, double.base_url)
        results.settings = settings
        log(f"starting {config.workers} workers (taskpilot.serve)")
        server = stack.enter_context(workers(config, settings, workdir))
        results.start_s = server.started_s
        log(f"workers {server.worker_pids()} up in {server.started_s:.0f} s")
        try:
            asyncio.run(measure(config, server, double, results))
        finally:
            if config.keep_log is not None:
                shutil.copyfile(server.log_path, config.keep_log)
            lines = server.log_lines()
            results.log_lines = len(lines)
            results.log_warnings = [
                line for line in lines if any(w in line for w in ("ERROR", "Traceback", "WARN"))
            ][:20]
            log("stopping workers and the model double")
    results.seconds = time.monotonic() - clock
    return results
