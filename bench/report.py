"""Renders a benchmark run as Markdown (bench/RESULTS.md)."""

from __future__ import annotations

import math

from bench.breakdown import Breakdown, BreakdownRow
from bench.machine import Load
from bench.mcp_cost import McpResult
from bench.profiling import Profile
from bench.runner import HISTORY_SIZES, DatabaseResults, RunResults
from bench.stats import Summary, ratio

TURN_TARGET_MS = 20.0  # issue 12's aim for the in-process add-task turn
HISTORY_TARGET_RATIO = 1.3
INDENT = "&nbsp;&nbsp;&nbsp;"


def number(value: float, digits: int) -> str:
    """A figure with `digits` decimals, or "–" when nothing was measured (NaN)."""
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _load(load: Load | None) -> str:
    return load.describe() if load is not None else "–"


def table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    """A Markdown table: the first `text_columns` columns (and "notes") left, numbers right."""
    align = [
        "---" if index < text_columns or name == "notes" else "---:"
        for index, name in enumerate(header)
    ]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _summary_cells(summary: Summary) -> list[str]:
    return [
        str(summary.n),
        number(summary.p50, 2),
        number(summary.p95, 2),
        number(summary.mean, 2),
        number(summary.minimum, 2),
        number(summary.maximum, 2),
    ]


def _ran(results: RunResults) -> list[DatabaseResults]:
    return [db for db in results.databases if db.skipped is None]


def _history_ratio(db: DatabaseResults) -> float:
    short, long = (db.history.get(size) for size in HISTORY_SIZES)
    if short is None or long is None:
        return math.nan
    return ratio(long.summary.p50, short.summary.p50)


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def _targets(results: RunResults) -> list[str]:
    postgres = results.database("PostgreSQL")
    rows: list[list[str]] = []
    label = f"p50 turn overhead on PostgreSQL under {TURN_TARGET_MS:.0f} ms"
    if postgres is not None and postgres.skipped is None and postgres.turn_json is not None:
        p50 = postgres.turn_json.summary.p50
        rows.append([label, f"{p50:.1f} ms", _verdict(p50 < TURN_TARGET_MS)])
    else:
        reason = postgres.skipped if postgres is not None and postgres.skipped else "not run"
        rows.append([label, "–", f"not measured: {reason}"])
    for db in _ran(results):
        value = _history_ratio(db)
        rows.append(
            [
                f"1,000-message conversation within {HISTORY_TARGET_RATIO}× of the 10-message one"
                f" ({db.label}, p50)",
                f"{value:.2f}×",
                _verdict(value <= HISTORY_TARGET_RATIO),
            ]
        )
    return ["## Targets", "", *table(["Target", "Measured", "Verdict"], rows)]


def _method(results: RunResults) -> list[str]:
    config = results.config
    env = results.environment
    versions = ", ".join(db.version for db in _ran(results))
    quick = (
        " **This is a `--quick` smoke run: too few iterations to quote.**" if config.quick else ""
    )
    return [
        "## Method",
        "",
        f"- **Machine**: {env['cpu']}; {env['os']}; {env['python']}. Databases: {versions},"
        " PostgreSQL on the same machine over loopback TCP (`fsync` on, default settings)."
        " Client, server, database and the MCP subprocesses of measurement 3 all share these"
        " cores, and so does whatever else runs: every table carries a **load** column (average"
        " cores busy during that series, from /proc: this process · PostgreSQL · all other"
        ' processes). On 2 cores, "other" above ~0.5 means the figures are inflated by'
        " contention.",
        f"- **Packages**: {env['packages']}.",
        "- **System under test**: the real `Runtime` (`taskpilot/runtime.py`: database pool, MCP"
        " server, `TurnEngine`) and the real API app from `create_api`, called through"
        " `httpx.AsyncClient(transport=httpx.ASGITransport(app))` (in-process, no socket); the"
        " agent reaches the real MCP server in-process through the official client"
        " (`mcp.Client` on the server object, `taskpilot/agent/mcp_client.py`). A fresh database"
        " per run, migrated from empty with `taskpilot.core.db.migrate`: a temporary SQLite"
        " file, and a throwaway PostgreSQL database created from"
        " `$TASKPILOT_BENCH_POSTGRES_URL` and dropped afterwards. Settings as shipped (history"
        " window 10 turns, idle connections pinged before use, tracing off).",
        "- **Model double** (`bench/model.py`, `AddTaskModel`): a zero-latency"
        " `agents.models.interface.Model`. When the newest input item is the user's message it"
        " returns one `add_task` function call; when it is a `function_call_output`, an"
        " assistant message. It streams Responses API events (the service uses"
        " `Runner.run_streamed`), keeps no per-call state and serves any number of turns. So"
        " every turn is: 2 model calls, 1 MCP session (the tool list and the server's discovery"
        " are shared per process), 1 `add_task` writing a real row, the turn stored. Its own"
        " cost is shown under the breakdown.",
        "- **What is timed**: `time.perf_counter_ns()` from sending `POST /api/{user_id}/chat`"
        " to having the whole response (JSON; the SSE row to the end of the stream). The client"
        " checks every answer (200, one successful `add_task`). Turns run one after another:"
        " this is per-turn overhead, not throughput. **CPU/turn** is this process's CPU time"
        " (`time.process_time_ns`, all threads) per timed turn; wall minus CPU is waiting"
        " (database, scheduling).",
        f"- **Iterations**: {config.warmup} untimed warm-up turns, then {config.turns} timed"
        f" turns per series; the breakdown {config.breakdown_turns} instrumented turns; the"
        f" profile {config.profile_turns} turns; MCP {config.mcp_warmup} warm-up +"
        f" {config.mcp_iterations} iterations per transport, stdio {config.stdio_iterations}."
        " Series that are compared run interleaved (JSON/SSE, 10/1,000 messages alternate turn"
        " by turn). Reported: p50 (median), p95 (linear interpolation), mean, min, max, in"
        " ms; ratios of p50s. `gc.collect()` once before each timed series; the collector"
        f" stays on.{quick}",
        f"- Run started {results.started:%Y-%m-%d %H:%M} UTC and took {results.seconds:.0f} s.",
        "",
    ]


def _turn_section(results: RunResults) -> list[str]:
    lines = [
        "## 1. Server overhead of one chat turn",
        "",
        "One conversation; after the warm-up it is longer than the history window, so each"
        " timed turn loads a full window (20 messages), like a running conversation. JSON and"
        " SSE turns alternate in it.",
        "",
    ]
    rows: list[list[str]] = []
    for db in _ran(results):
        series = [
            ("JSON", db.turn_json),
            ("SSE", db.turn_sse),
        ]
        for mode, timing in series:
            if timing is not None:
                rows.append(
                    [
                        f"{db.label}, {mode}",
                        *_summary_cells(timing.summary),
                        f"{timing.cpu_ms_per_turn:.1f}",
                        _load(timing.load),
                    ]
                )
    lines += table(
        [
            "Database, mode",
            "n",
            "p50 ms",
            "p95 ms",
            "mean ms",
            "min ms",
            "max ms",
            "CPU ms/turn",
            "load (cores)",
        ],
        rows,
    )
    for db in _ran(results):
        if db.commit_what_if:
            lines += [
                f"What-if on {db.label} (not a recommendation): the JSON turn as shipped,"
                " alternating turn by turn with a second runtime on the same database whose"
                " connections set `synchronous_commit = off`, i.e. commits that do not wait for"
                " the WAL flush. The difference is what the flush costs a turn on this disk.",
                "",
            ]
            lines += table(
                [
                    "Variant",
                    "n",
                    "p50 ms",
                    "p95 ms",
                    "mean ms",
                    "min ms",
                    "max ms",
                    "CPU ms/turn",
                    "load (cores)",
                ],
                [
                    [label, *_summary_cells(t.summary), f"{t.cpu_ms_per_turn:.1f}", _load(t.load)]
                    for label, t in db.commit_what_if.items()
                ],
            )
    for db in _ran(results):
        if db.breakdown is not None:
            lines += _breakdown(db.label, db.breakdown)
    for db in _ran(results):
        if db.profile is not None:
            lines += _profile(db.label, db.profile)
    return lines


def _breakdown(label: str, breakdown: Breakdown) -> list[str]:
    lines = [
        f"### Where the time goes — {label}",
        "",
        f"Means over {breakdown.turns} instrumented turns (load: {_load(breakdown.load)})."
        " Spans are wrapped around this runtime's objects by `bench/breakdown.py`; means add"
        ' up, medians would not. Indented rows are parts of the row above. "Database round'
        ' trips" is time inside the SQL driver (execute, commit, rollback, pre-ping): waiting'
        " for the database plus the driver's own work; ORM work counts in the parent row.",
        "",
    ]
    rows = [
        [
            f"{INDENT * row.indent}{'↳ ' if row.indent else ''}{row.label}",
            number(row.mean_ms, 2),
            f"{row.share:.0%}",
            row.note,
        ]
        for row in breakdown.rows
    ]
    lines += table(["Part of the turn", "mean ms", "share", "notes"], rows)
    sql_rows = [
        [kind, f"{count:.1f}", number(ms, 2)]
        for kind, (count, ms) in breakdown.sql_per_turn.items()
    ]
    lines += ["SQL driver calls per turn, all parts together:", ""]
    lines += table(["Driver call", "calls/turn", "ms/turn"], sql_rows)
    held = breakdown.api_session_ms
    span = (
        "i.e. across the whole turn"
        if held > breakdown.total_ms / 2
        else "only for the lookup, not across the turn"
    )
    lines += [
        f"The API request's own database session (opened for the user lookup) stayed open"
        f" {held:.1f} ms per turn, {span}. The model double itself costs"
        f" {breakdown.model_double_ms:.3f} ms per turn (its two responses, timed in isolation).",
        "",
    ]
    return lines


def _profile(label: str, profile: Profile, packages: int = 12) -> list[str]:
    lines = [
        f"### CPU profile — {label}",
        "",
        f"`cProfile` (standard library) over {profile.turns} turns: {profile.total_ms_per_turn:.1f}"
        f" ms of profiled CPU per turn, plus {profile.idle_ms_per_turn:.1f} ms idle in epoll"
        " (waiting for the database or the other thread). cProfile inflates call-heavy code, so"
        " read the shares, not the milliseconds. Main thread only (aiosqlite's worker thread"
        " is not profiled). Own time = time in a package's functions excluding their callees.",
        "",
    ]
    lines += table(
        ["Package", "own ms/turn", "share"],
        [
            [row.name, number(row.ms_per_turn, 2), f"{row.share:.0%}"]
            for row in profile.packages[:packages]
        ],
    )
    lines += ["Top functions by own time:", ""]
    lines += table(
        ["Function", "own ms/turn", "share"],
        [
            [f"`{row.name}`", number(row.ms_per_turn, 2), f"{row.share:.1%}"]
            for row in profile.functions
        ],
    )
    if profile.cumulative:
        lines += ["Cumulative CPU (with callees) of selected pure-CPU functions:", ""]
        lines += table(
            ["Function", "ms/turn", "share"],
            [
                [row.name, number(row.ms_per_turn, 2), f"{row.share:.0%}"]
                for row in profile.cumulative
            ],
        )
    return lines


def _history_section(results: RunResults) -> list[str]:
    short, long = HISTORY_SIZES
    lines = [
        "## 2. History length",
        "",
        f"The same turn in a conversation that already holds {short} or {long:,} messages,"
        " seeded in bulk (alternating user/assistant messages, each assistant one with an"
        " `add_task` call). The two conversations alternate turn by turn, and each turn's two"
        " new messages are deleted afterwards (untimed), so every timed turn sees exactly the"
        " seeded length. The service loads a bounded window (`history_turns` = 10): the"
        f" {short} messages are loaded whole, the {long:,} are cut to the newest 20 by one"
        " indexed query.",
        "",
    ]
    rows = []
    for db in _ran(results):
        a, b = db.history.get(short), db.history.get(long)
        if a is None or b is None:
            continue
        rows.append(
            [
                db.label,
                str(a.summary.n),
                number(a.summary.p50, 2),
                number(a.summary.p95, 2),
                number(b.summary.p50, 2),
                number(b.summary.p95, 2),
                f"**{ratio(b.summary.p50, a.summary.p50):.2f}×**",
                f"{a.cpu_ms_per_turn:.1f} / {b.cpu_ms_per_turn:.1f}",
                _load(a.load),
            ]
        )
    lines += table(
        [
            "Database",
            "n each",
            f"{short} msgs p50",
            f"{short} p95",
            f"{long:,} msgs p50",
            f"{long:,} p95",
            f"p50 ratio {long:,}/{short}",
            "CPU ms/turn",
            "load (cores)",
        ],
        rows,
    )
    return lines


def _mcp_section(results: RunResults) -> list[str]:
    lines = [
        "## 3. MCP call cost per turn",
        "",
        "One iteration = what a turn needs from MCP: open a client session (`initialize`),"
        ' `list_tools`, one `call_tool` (`add_task`, a real write), close. "To result" stops'
        ' when the tool\'s result arrives; "incl. close" also counts closing the session (for'
        " stdio, the process). The official `mcp` client is `streamable_http_client` +"
        ' `ClientSession`; "via Agents SDK" is the service\'s own `McpConnector`'
        " (`MCPServerStreamableHttp`). The loopback server is `python -m taskpilot.mcp http` in"
        " a subprocess on the same database and the same 2 cores (its CPU shows as"
        ' "other" in the load column, as does the stdio server\'s).',
        "",
    ]
    rows = []
    for db in _ran(results):
        for result in db.mcp:
            rows.append(
                [
                    f"{db.label}: {result.transport}",
                    str(result.until_result.n),
                    number(result.until_result.p50, 2),
                    number(result.until_result.p95, 2),
                    number(result.until_closed.p50, 2),
                    number(result.until_closed.p95, 2),
                    _load(result.load),
                ]
            )
    lines += table(
        [
            "Database: transport",
            "n",
            "to result p50",
            "p95",
            "incl. close p50",
            "p95",
            "load (cores)",
        ],
        rows,
    )
    return lines


def _row(breakdown: Breakdown, prefix: str) -> BreakdownRow | None:
    return next((row for row in breakdown.rows if row.label.startswith(prefix)), None)


def _mcp(db: DatabaseResults, prefix: str) -> McpResult | None:
    return next((result for result in db.mcp if result.transport.startswith(prefix)), None)


def _findings(results: RunResults) -> list[str]:
    """Where this run's turn goes, with its numbers, and what is left to cut."""
    ran = _ran(results)
    main = results.database("PostgreSQL")
    if main is None or main.skipped is not None:
        main = ran[0] if ran else None
    if main is None or main.breakdown is None or main.turn_json is None:
        return []
    b = main.breakdown
    turn = main.turn_json

    def part(prefix: str) -> float:
        row = _row(b, prefix)
        return row.mean_ms if row else math.nan

    mcp_open, mcp_call = part("MCP session open"), part("MCP `call_tool`")
    rest, finish = part("Agents SDK Runner"), part("`finish_turn`")
    api, prepare = part("API app outside"), part("`TurnEngine.prepare`")
    db_total = sum(row.mean_ms for row in b.rows if row.label.startswith("of which database"))
    sql_calls = sum(count for count, _ in b.sql_per_turn.values())
    commits = b.sql_per_turn.get("commit", (0.0, 0.0))
    floor = f" (a bare `GET /api/info` costs {main.floor.summary.p50:.1f} ms)" if main.floor else ""
    lines = [
        "## Findings",
        "",
        f"Figures from {main.label} in this run unless stated.",
        "",
        f"- **A turn is CPU-bound Python.** p50 {turn.summary.p50:.1f} ms wall for"
        f" {turn.cpu_ms_per_turn:.1f} ms of this process's CPU per turn (the in-process HTTP"
        f" client included). Breakdown (mean {b.total_ms:.1f} ms): API app outside the engine"
        f" {api:.1f} ms{floor}, `prepare` {prepare:.1f} ms, MCP session open"
        f" {mcp_open:.1f} ms, the `add_task` call {mcp_call:.1f} ms, keeping the tool call and"
        f" storing the reply {finish:.1f} ms, the Agents SDK Runner and model double"
        f" {rest:.1f} ms. Database round trips are {db_total:.1f} ms of it"
        f" ({sql_calls:.0f} driver calls, {commits[0]:.0f} commits).",
        "- **Already cut** (issue 12; `bench/TURN-COST.md` has the before and after): MCP in"
        " process without HTTP framing or tokens; the tool list, the function tools, the"
        " output-schema validators, the server's discovery and the agent built once per"
        " process; no pre-ping on a connection in steady use; a turn's statements built once"
        " as Core statements; the question's conversation found and touched in one statement;"
        " the reply stored in two.",
    ]
    in_process = _mcp(main, "in-process via `McpConnector")
    official = _mcp(main, "in-process ASGI (official")
    if in_process and official:
        lines.append(
            "- **The MCP hop.** One session round (open, call `add_task`, close) takes"
            f" {in_process.until_closed.p50:.1f} ms the way a turn does it, against"
            f" {official.until_closed.p50:.1f} ms over the in-process streamable-HTTP app that"
            " turns used before (table 3)."
        )
    stdio = _mcp(main, "stdio")
    if in_process and stdio:
        lines.append(
            "- **Transport choice confirmed.** A turn's MCP use costs"
            f" {in_process.until_closed.p50:.1f} ms in-process against"
            f" {stdio.until_closed.p50:.0f} ms with a stdio process per turn."
        )
    lines.append(
        f"- **What is left** to reach {TURN_TARGET_MS:.0f} ms is spread thinly: the Agents SDK's"
        " own work per step (agent identity signatures, item de-duplication and copies), the"
        " API's request handling and JSON, SQLAlchemy and psycopg per statement (five"
        " transactions per turn: the signed-in check, storing the question, the tool's write,"
        " keeping the tool call, and the reply), and the in-process HTTP client itself. Because"
        " the turn is CPU-bound, the figure also scales with core speed."
    )
    lines.append("")
    return lines


def _skipped(results: RunResults) -> list[str]:
    skipped = [db for db in results.databases if db.skipped is not None]
    if not skipped:
        return []
    return ["## Skipped", "", *(f"- {db.label}: {db.skipped}" for db in skipped), ""]


def render(results: RunResults, argv: list[str]) -> str:
    """The whole results file."""
    command = " ".join(["python -m bench", *argv])
    lines = [
        "# TaskPilot benchmark results",
        "",
        f"Written by `{command}` (`bench/__main__.py`; also `make bench`). Regenerate rather"
        " than edit: every figure below comes from that one run.",
        "",
    ]
    lines += _targets(results)
    lines += _skipped(results)
    lines += _findings(results)
    lines += _method(results)
    lines += _turn_section(results)
    lines += _history_section(results)
    lines += _mcp_section(results)
    return "\n".join(lines).rstrip() + "\n"
