"""LOAD.md: the tables of a load run, its method, and (from `findings`) what they say."""

from __future__ import annotations

import math

from bench.load.config import ROOT
from bench.load.findings import aim_section, findings
from bench.load.monitor import LOG_SIGNATURES, PROBE_S, SAMPLE_S
from bench.load.processes import LIMITS
from bench.load.results import AFTER, BEFORE, BETWEEN, LevelResult, LoadResults
from bench.report import number, table
from bench.stats import Summary


def _pair(summary: Summary, digits: int = 0) -> str:
    """ "p50 / p95"."""
    return f"{number(summary.p50, digits)} / {number(summary.p95, digits)}"


def _levels_table(results: LoadResults) -> list[str]:
    rows = []
    for label, level in results.all_levels():
        turn, over = Summary.of_ms([s.total_ms for s in level.ok]), Summary.of_ms(level.overhead)
        rows.append(
            [
                f"{label} × {level.turns_each}",
                f"{len(level.ok)}/{len(level.samples)}"
                + (f" ({level.planned})" if level.planned > len(level.samples) else ""),
                str(sum(level.errors.values())),
                f"{level.turns_per_s:.1f}",
                number(turn.p50, 0),
                number(turn.p95, 0),
                number(turn.p99, 0),
                f"**{number(over.p50, 0)}**",
                f"**{number(over.p95, 0)}**",
                f"**{number(over.p99, 0)}**",
            ]
        )
    return [
        "## Results",
        "",
        "Conversations at once × turns each, in ms unless stated. **Overhead** = the turn's"
        " time minus the model double's own time for that turn's two calls (about"
        f" {2 * results.config.call_ms:.0f} ms; matched by the token each message carries)."
        " The first row is one conversation alone: the overhead with nothing to wait for."
        " ok turns = successful / sent; in brackets the turns planned when the level's"
        f" {results.config.budget_s:.0f} s budget stopped users from starting the rest.",
        "",
        *table(
            [
                "Conversations",
                "ok turns",
                "errors",
                "turns/s",
                "turn p50",
                "turn p95",
                "turn p99",
                "overhead p50",
                "overhead p95",
                "overhead p99",
            ],
            rows,
        ),
    ]


def _phases_table(results: LoadResults) -> list[str]:
    rows = []
    for label, level in results.all_levels():
        phase = {
            name: Summary.of_ms(level.phases.get(name, [])) for name in (BEFORE, BETWEEN, AFTER)
        }
        probe, lag = Summary.of_ms(level.probe_ms), Summary.of_ms(level.lag_ms)
        rows.append(
            [
                label,
                _pair(phase[BEFORE]),
                _pair(phase[BETWEEN]),
                _pair(phase[AFTER]),
                _pair(Summary.of_ms([s.head_ms for s in level.ok])),
                _pair(Summary.of_ms([s.first_delta_ms for s in level.ok])),
                _pair(Summary.of_ms(level.double_ms)),
                f"{_pair(probe, 1)} / {number(probe.maximum, 0)}"
                + (f" ({level.probe_errors} failed)" if level.probe_errors else ""),
                f"{_pair(lag, 1)} / {number(lag.maximum, 0)}",
            ]
        )
    return [
        "## Where the overhead goes",
        "",
        "The double stamps each call's start and end on the machine's monotonic clock, the"
        " clock the client stamps its request with, so each turn's overhead splits into three"
        f" phases (p50 / p95, ms): **{BEFORE}** (auth, rate limits, `prepare`: conversation,"
        " history, the user's message stored; then the agent, the MCP session, the request to"
        f" the model), **{BETWEEN}** (the rest of the first stream, the MCP tool call, the"
        f" second request) and **{AFTER}** (storing the reply, the `done` event, the stream's"
        " end reaching the client). Then the response head (status line: everything up to"
        " `prepare`), the first `text_delta`, the double's own time per turn, a trivial"
        " `GET /api/info` on a new connection every"
        f" {PROBE_S} s during the level (p50 / p95 / max: the workers' event-loop lag plus"
        " accept) and this client's own event-loop lag (p50 / p95 / max; a late client"
        " inflates every figure here).",
        "",
        *table(
            [
                "Conversations",
                "before 1st call",
                "between calls",
                "after last chunk",
                "response head",
                "first delta",
                "double per turn",
                "`/api/info` probe",
                "client loop lag",
            ],
            rows,
        ),
    ]


def _resources_table(results: LoadResults) -> list[str]:
    rows = []
    for label, level in results.all_levels():
        pids = sorted(level.peak_rss)
        rss = " · ".join(
            f"{level.rss_before.get(pid, math.nan):.0f}→{level.peak_rss[pid]:.0f}" for pid in pids
        )
        cores = level.cores
        each = " + ".join(f"{cores.get(f'worker {i}', 0):.2f}" for i in range(len(pids)))
        client_ms = level.client_cpu_s * 1000 / max(1, len(level.samples))
        rows.append(
            [
                label,
                rss,
                f"{each} = {cores.get('workers', 0):.2f}",
                f"{cores.get('reflex main', 0):.2f}",
                f"{cores.get('model double', 0):.2f}",
                f"{cores.get('client', 0):.2f} ({client_ms:.1f} ms/turn)",
                f"{cores.get('postgres', 0):.2f}",
                f"{cores.get('other', 0):.2f}",
                number(level.cpu_ms_per_turn("workers"), 0),
                _per_turn(level, "commit") + " + " + _per_turn(level, "rollback"),
            ]
        )
    idle = " · ".join(f"{results.idle_rss[pid]:.0f}" for pid in sorted(results.idle_rss))
    return [
        "## Memory and CPU",
        "",
        "RSS per worker (MiB, VmRSS from /proc/<pid>/status): at the level's start → its peak,"
        f" sampled every {SAMPLE_S} s (idle after the warm-up: {idle}). CPU in average cores"
        " busy over the level, of the machine's 2: each worker, the `reflex run` supervisor,"
        " the model double, this client (and its CPU per turn, the monitoring below"
        " included: it dominates the first row), PostgreSQL, and every other"
        ' process on the machine ("other": on a shared machine, other people\'s work); the'
        " workers' CPU per successful turn; and the bench database's transactions per turn"
        " (`pg_stat_database`: each pooled checkout ends in a commit or a rollback).",
        "",
        *table(
            [
                "Conversations",
                "RSS per worker MiB",
                "workers (cores)",
                "supervisor",
                "double",
                "client",
                "PostgreSQL",
                "other",
                "worker CPU ms/turn",
                "PG commits + rollbacks /turn",
            ],
            rows,
        ),
    ]


def _per_turn(level: LevelResult, counter: str) -> str:
    if counter not in level.database or not level.samples:
        return "–"
    return f"{level.database[counter] / len(level.samples):.1f}"


def _errors_section(results: LoadResults) -> list[str]:
    lines = ["## Errors", ""]
    rows = [
        [label, error, str(count)]
        for label, level in results.all_levels()
        for error, count in sorted(level.errors.items())
    ]
    if not rows:
        lines += [
            "None: every turn answered 200 and streamed `started`, its tool events, its text"
            " deltas and `done`, with no `error` event, no failed tool call, no transport"
            " failure and no timeout.",
            "",
        ]
    else:
        lines += table(["Conversations", "error", "turns"], rows)
    signature_rows = [
        [label, *(str(level.log_signatures.get(name, 0)) for name in LOG_SIGNATURES)]
        for label, level in results.all_levels()
    ]
    if any(any(cell != "0" for cell in row[1:]) for row in signature_rows):
        lines += [
            "What the workers logged during each level (occurrences):",
            "",
            *table(["Conversations", *LOG_SIGNATURES], signature_rows),
        ]
    lines += [
        "The bench database's connections during each level (peaks, sampled every second"
        " from `pg_stat_activity`; the pools allow 2 × 30), and how long the workers went on"
        " finishing turns whose clients had given up:",
        "",
        *table(
            [
                "Conversations",
                "connections",
                "`idle in transaction`",
                "longest idle in a transaction (s)",
                "abandoned turns ran on for (s)",
            ],
            [
                [
                    label,
                    number(level.connections.get("connections", math.nan), 0),
                    number(level.connections.get("idle_in_tx", math.nan), 0),
                    number(level.connections.get("idle_in_tx_s", math.nan), 1),
                    f"{level.settle_s:.0f}",
                ]
                for label, level in results.all_levels()
            ],
        ),
    ]
    for label, level in results.all_levels():
        if level.unmatched:
            lines.append(f"- {label}: {level.unmatched} successful turns lacked a double record.")
        if level.model_retries:
            lines.append(f"- {label}: {level.model_retries} turns retried a model call.")
    if results.log_warnings:
        lines += [
            "",
            f"The workers' log ({results.log_lines} lines) has warnings or errors; the first:",
            "",
            "```",
            *(line[:300] for line in results.log_warnings[:8]),
            "```",
            "",
        ]
    else:
        lines += [
            "",
            f"The workers' log ({results.log_lines} lines) holds no warning or error.",
            "",
        ]
    return lines


def _profile_section(results: LoadResults) -> list[str]:
    level = results.profiled
    if level is None or level.profile is None:
        if results.profile_skipped:
            return ["## Profile of the workers", "", f"Not profiled: {results.profile_skipped}", ""]
        return []
    profile = level.profile
    lines = [
        "## Profile of the workers",
        "",
        f"py-spy sampling both workers at {profile.rate} Hz for {profile.seconds:.0f} s"
        f" ({profile.samples:,} busy samples, idle ones not recorded) during an extra level"
        f" of {level.conversations} conversations ({level.turns_per_s:.1f} turns/s; not"
        " reported above, since py-spy's own work would distort it). Own time: the innermost"
        " frame's package. Areas: samples with a matching frame anywhere in the stack (they"
        " overlap; indented rows are parts of the row above).",
        "",
    ]
    lines += table(
        ["Own time by package", "share"],
        [[name, f"{share:.0%}"] for name, share in profile.packages],
    )
    lines += table(
        ["Area (inclusive)", "share", "≈ ms CPU/turn"],
        [
            [
                name,
                f"{share:.0%}",
                number(share * level.cpu_ms_per_turn("workers"), 1),
            ]
            for name, share in profile.areas
        ],
    )
    return lines


def _method(results: LoadResults) -> list[str]:
    config = results.config
    env = results.environment
    limits = ", ".join(f"`{k}={v}`" for k, v in LIMITS.items())
    extra = ", ".join(f"`{k}={v}`" for k, v in config.extra_env)
    think = (
        f"a think time of {config.think_s:g} s (uniform ×0.5–1.5) between turns"
        if config.think_s > 0
        else "no think time: the next message goes as soon as the reply has streamed"
    )
    quick = "\n\n**This is a `--quick` smoke run: too few turns to quote.**" if config.quick else ""
    return [
        "## Method",
        "",
        f"- **Machine**: {env['cpu']}; {env['os']}; {env['python']}; {results.postgres_version}"
        " and Redis on the same machine over loopback. The workers, the model double, this"
        " client and PostgreSQL all share these 2 cores (the CPU table shows who used what),"
        " so the client's and the double's work comes out of the server's budget, as does"
        " any other work on the machine.",
        f"- **Packages**: {env['packages']}.",
        f"- **Server**: `python -m taskpilot.serve --workers {config.workers} --host 127.0.0.1"
        " --port P --backend-only`, the production start (migrations on a fresh PostgreSQL"
        " database, then `reflex run --env prod`, whose Granian forks the workers; up in"
        f" {results.start_s:.0f} s). Settings: every TaskPilot setting cleared from the"
        " environment, then `DATABASE_URL` (that database), `REFLEX_REDIS_URL` (a Redis"
        " database of the bench's own), `JWT_SECRET`, `MODEL_PROVIDER=openai-compatible`,"
        " `MODEL_BASE_URL` (the double), `MODEL_NAME`, and per-user limits raised so they"
        f" stay in the path but never refuse a bench turn: {limits}"
        + (f"; and {extra}" if extra else "")
        + (f"; from the checkout at `{config.tree}`" if config.tree != ROOT else "")
        + ". Everything else as shipped: database pool 10 + 20 overflow per worker (2 × 30"
        " connections fit PostgreSQL's default 100), history window 10 turns, in-process"
        " MCP, log level INFO.",
        "- **Model double** (`bench/model_double.py`): an OpenAI-compatible chat-completions"
        " server (plain ASGI on uvicorn, a process of its own) that TaskPilot's"
        " `OpenAIChatCompletionsModel` streams from as it would from vLLM. Each call takes"
        f" about {config.call_ms:.0f} ms; a turn is two calls: the first streams one tool call"
        " (`add_task` with a title from the message, or `list_tasks`) spread over the call,"
        f" the second a reply about the tool's result in {config.reply_chunks} text chunks"
        " spread evenly over its call. It times each call itself, from the request's arrival"
        " to its last byte, and records it with the token the user's message carries.",
        f"- **Users**: {results.accounts} accounts signed up through `POST /api/auth/signup`"
        f" before anything is timed ({results.signup_s:.0f} s: Argon2id). A level starts its"
        f" users over {config.ramp_s:g} s; each opens a new conversation and sends its turns"
        " in a row over `POST /api/{user_id}/chat` with `Accept: text/event-stream` (the"
        " conversation id from the first turn's `started` event), with"
        f' {think}. Messages alternate "add <a title>" and "what is still open?". Client:'
        f" {results.client_name}, one kept-alive connection per user (`--client httpx` runs"
        " the same users on one `httpx.AsyncClient`, measured at two to three times this"
        f" client's CPU per turn). First {config.warmup} untimed conversations of 2 turns warm"
        " the workers up.",
        "- **Errors**: any status but 200, an `error` event, a failed tool call, a stream"
        " without `done`, a transport failure or a turn over"
        f" {config.turn_timeout_s:.0f} s; counted by kind and left out of the percentiles.",
        "- **Timing**: `time.monotonic_ns()` from writing the request to the stream's last"
        " chunk. Overhead = turn time − the double's two recorded call durations: everything"
        " that is not the model, including queueing in the workers and the client's own"
        " reading. p50 = median; p95 and p99 by linear interpolation, over all successful"
        " turns of the level; turns/s = successful turns over the level's wall time (ramp"
        " included).",
        f"- Run started {results.started:%Y-%m-%d %H:%M} UTC and took {results.seconds:.0f} s."
        + quick,
        "",
    ]


def render(results: LoadResults, argv: list[str]) -> str:
    """The whole LOAD.md."""
    command = " ".join(["python -m bench.load", *argv])
    lines = [
        "# TaskPilot load benchmark",
        "",
        f"Written by `{command}` (`bench/load/`; also `make bench-load`). Regenerate rather"
        " than edit: every figure below comes from that one run.",
        "",
    ]
    lines += aim_section(results)
    lines += findings(results)
    lines += _levels_table(results)
    lines += _phases_table(results)
    lines += _resources_table(results)
    lines += _errors_section(results)
    lines += _profile_section(results)
    lines += _method(results)
    return "\n".join(lines).rstrip() + "\n"
