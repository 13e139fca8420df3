"""`python -m bench.turn_cost`: what one chat turn costs, before and after a change, in one run.

    python -m bench.turn_cost --compare main                  main against the work tree
    python -m bench.turn_cost --compare HEAD~1 --current HEAD  two commits
    python -m bench.turn_cost --compare main --quick          a smoke run (about a minute)
    ... --turns N        timed turns per revision and database (default 200)
    ... --rounds R       fresh processes per revision and database (default 4)
    ... --skip-postgres  SQLite only
    ... --output PATH    where the Markdown goes (default bench/TURN-COST.md)

A revision is checked out with `git worktree add --detach /tmp/taskpilot-rev-<sha>` and
removed at the end; the work tree is measured where it is. Each revision runs in a process of
its own, `bench/turn_cost_probe.py` with that tree on `PYTHONPATH` (its docstring says what
is counted), on a fresh database migrated by that revision: a SQLite file, and a PostgreSQL
database created from $TASKPILOT_BENCH_POSTGRES_URL (default the local `test` database's
server) and dropped after; when that server is unreachable PostgreSQL is skipped, with the
reason printed and written down.

The two processes run side by side and take turns, one timed turn each (old new, new old,
...), so a busy moment on a shared machine lands on both alike: alternating whole processes
instead left a revision compared with itself 10% apart on a busy machine. Each round starts
both afresh, so what differs from one process to the next (memory layout, hash seed) is
averaged too. Every probe ends with one JSON line; this process adds them up.

This process imports nothing from `taskpilot` (nor `bench.databases`, which does): the work
tree may be mid-edit, and a revision that fails to import should fail its own probe, readably.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from bench.machine import environment
from bench.stats import Summary, ratio

REPOSITORY = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "turn_cost_probe.py"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "TURN-COST.md"
POSTGRES_ENV = "TASKPILOT_BENCH_POSTGRES_URL"  # the same server `python -m bench` uses
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROBE_TIMEOUT_SECONDS = 300
SQLITE, POSTGRES = "SQLite", "PostgreSQL"


def log(message: str) -> None:
    """Progress on stderr; the table goes to stdout."""
    print(f"[turn-cost] {message}", file=sys.stderr, flush=True)


class ProbeFailed(RuntimeError):
    """A revision's probe process failed; the message says which, and how."""


@dataclass(frozen=True)
class Revision:
    """A tree to measure: `old` (--compare) or `new` (--current, default the work tree)."""

    role: str
    label: str
    tree: Path


def git(*args: str) -> str:
    """Run git in this repository; its output, stripped."""
    done = subprocess.run(
        ["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def worktree(sha: str) -> Iterator[Path]:
    """`sha` checked out, detached, in /tmp/taskpilot-rev-<sha>; removed afterwards."""
    path = Path(tempfile.gettempdir()) / f"taskpilot-rev-{sha}"
    if path.exists():  # left behind by an interrupted run
        git("worktree", "remove", "--force", str(path))
    git("worktree", "add", "--detach", str(path), sha)
    try:
        yield path
    finally:
        git("worktree", "remove", "--force", str(path))


def revisions(stack: ExitStack, compare: str, current: str | None) -> tuple[Revision, Revision]:
    """The old and the new revision, their trees checked out on `stack` (one per commit)."""
    trees: dict[str, Path] = {}

    def checked_out(role: str, rev: str) -> Revision:
        sha = git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
        if sha not in trees:
            trees[sha] = stack.enter_context(worktree(sha))
        label = sha[:7] if sha.startswith(rev) else f"{rev} ({sha[:7]})"
        return Revision(role, label, trees[sha])

    old = checked_out("old", compare)
    if current is not None:
        return old, checked_out("new", current)
    head = git("rev-parse", "--short=7", "HEAD")
    changes = " + uncommitted changes" if git("status", "--porcelain") else ""
    return old, Revision("new", f"work tree ({head}{changes})", REPOSITORY)


def libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_unreachable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used, readably, or None when it can."""
    try:
        with psycopg.connect(libpq(admin_url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{sa.make_url(admin_url).render_as_string()} is unreachable: {detail}"


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(libpq(admin_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


@contextmanager
def fresh_database(kind: str, admin_url: str) -> Iterator[str]:
    """The URL of a new, empty database of `kind`; removed afterwards. The probe migrates it,
    with its own revision's migrations."""
    if kind == SQLITE:
        with tempfile.TemporaryDirectory(prefix="taskpilot-turn-cost-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'turn-cost.db'}"
        return
    name = f"taskpilot_turn_cost_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = sa.make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


@dataclass
class Probe:
    """A running `bench/turn_cost_probe.py`, driven turn by turn over its stdin and stdout."""

    revision: Revision
    process: subprocess.Popen[str]
    stderr: IO[str]

    def read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def expect(self, word: str) -> None:
        said = self.read()
        if said != word:
            raise self.failed(f"said {said[:200]!r} instead of {word!r}" if said else "")

    def turn(self) -> None:
        """One timed turn, start to end."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("turn\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self.failed("") from None
        self.expect("done")

    def result(self) -> dict[str, Any]:
        """The JSON line the probe ends with."""
        said = self.read()
        if self.process.wait() != 0 or not said.startswith("{"):
            raise self.failed("")
        result: dict[str, Any] = json.loads(said)
        if Path(result["tree"]) != self.revision.tree.resolve():
            raise self.failed(f"it imported taskpilot from {result['tree']}")
        return result

    def failed(self, what: str) -> ProbeFailed:
        """The failure, with the end of the probe's stderr."""
        self.process.kill()
        code = self.process.wait()
        self.stderr.seek(0)
        tail = "\n".join(self.stderr.read().strip().splitlines()[-15:])
        return ProbeFailed(f"{self.revision.label} failed (exit {code}) {what}\n{tail}")


def probe_env(revision: Revision) -> dict[str, str]:
    """This process's environment, with `revision`'s tree as the only `PYTHONPATH` and no
    coverage measurement (the probe clears TaskPilot's settings itself: it knows their names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    return {**env, "PYTHONPATH": str(revision.tree)}


@contextmanager
def started(revision: Revision, database_url: str, turns: int, warmup: int) -> Iterator[Probe]:
    """The probe started in `revision`'s tree, with that tree on `PYTHONPATH`; killed after
    if it is still running."""
    command = [sys.executable, "-P", str(PROBE), "--database", database_url, "--paced"]
    command += ["--turns", str(turns), "--warmup", str(warmup)]
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: it never fills up
        process = subprocess.Popen(
            command,
            cwd=revision.tree,
            env=probe_env(revision),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        # A hung probe is killed, which ends the read waiting on it.
        watchdog = threading.Timer(PROBE_TIMEOUT_SECONDS, process.kill)
        watchdog.start()
        try:
            yield Probe(revision, process, stderr)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()


def lockstep(old: Probe, new: Probe, turns: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both probes warm up at once, then take turns, swapping who goes first every turn."""
    for probe in (old, new):
        probe.expect("ready")
    for index in range(turns):
        for probe in (old, new) if index % 2 == 0 else (new, old):
            probe.turn()
    return old.result(), new.result()


@dataclass
class Series:
    """Every timed turn of one revision on one database, over all rounds."""

    wall_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    checkouts: list[int] = field(default_factory=list)
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    round_cpu_ns: list[list[int]] = field(default_factory=list)  # cpu_ns, round by round
    connects: int = 0
    lingering_tasks: int = 0

    def add(self, result: dict[str, Any]) -> None:
        self.wall_ns += result["wall_ns"]
        self.cpu_ns += result["cpu_ns"]
        self.statements += result["statements"]
        self.checkouts += result["checkouts"]
        self.kinds.update(result["statement_kinds"])
        self.round_cpu_ns.append(result["cpu_ns"])
        self.connects += result["connects"]
        self.lingering_tasks += result["lingering_tasks"]

    @property
    def cpu(self) -> Summary:
        return Summary.of_ns(self.cpu_ns)

    @property
    def round_cpu_ms(self) -> list[float]:
        """Each round's median CPU per turn."""
        return [Summary.of_ns(samples).p50 for samples in self.round_cpu_ns]

    @property
    def wall(self) -> Summary:
        return Summary.of_ns(self.wall_ns)

    @property
    def statements_per_turn(self) -> float:
        return statistics.fmean(self.statements) if self.statements else math.nan

    @property
    def checkouts_per_turn(self) -> float:
        return statistics.fmean(self.checkouts) if self.checkouts else math.nan


@dataclass
class Run:
    """A whole comparison: what was asked, what ran, what was skipped and why."""

    old: Revision
    new: Revision
    turns_per_round: int
    rounds: int
    warmup: int
    started: datetime
    series: dict[tuple[str, str], Series] = field(default_factory=dict)  # (database, role)
    databases: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    postgres_version: str = ""
    seconds: float = 0.0


def measure(run: Run, admin_url: str) -> None:
    """Round after round, each database: old and new each in a fresh process on a fresh
    database, taking turns."""
    for number in range(1, run.rounds + 1):
        for database in run.databases:
            with ExitStack() as stack:
                probes = []
                for revision in (run.old, run.new):
                    url = stack.enter_context(fresh_database(database, admin_url))
                    probe = started(revision, url, run.turns_per_round, run.warmup)
                    probes.append(stack.enter_context(probe))
                results = lockstep(probes[0], probes[1], run.turns_per_round)
            for revision, result in zip((run.old, run.new), results, strict=True):
                run.series.setdefault((database, revision.role), Series()).add(result)
                log(
                    f"round {number}/{run.rounds} · {database} · {revision.role} "
                    f"{revision.label}: {statistics.fmean(result['statements']):.1f} statements,"
                    f" {Summary.of_ns(result['cpu_ns']).p50:.1f} ms CPU per turn (median)"
                )


def _number(value: float, digits: int = 1) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _ratio(new: float, old: float) -> str:
    value = ratio(new, old)
    return "–" if math.isnan(value) else f"**{value:.2f}×**"


def _paired_cpu(new: Series, old: Series) -> str:
    """New / old CPU over pairs of turns run back to back (turn k of each process in a
    round): the median ratio of all pairs, and in brackets the lowest and highest round's.
    Pairing cancels what the machine's load does to both."""

    def ratios(news: list[int], olds: list[int]) -> list[float]:
        return [n / o for n, o in zip(news, olds, strict=True)]

    rounds = zip(new.round_cpu_ns, old.round_cpu_ns, strict=True)
    per_round = [statistics.median(ratios(news, olds)) for news, olds in rounds]
    overall = statistics.median(ratios(new.cpu_ns, old.cpu_ns))
    return f"**{overall:.2f}×** ({min(per_round):.2f}–{max(per_round):.2f})"


def _kinds(series: Series) -> str:
    turns = max(1, len(series.statements))
    kinds = [f"{kind} {count / turns:.1f}" for kind, count in series.kinds.most_common()]
    return " · ".join(kinds) + f"; new connections {series.connects / turns:.2f}"


def _method(run: Run, argv: list[str], machine: dict[str, str]) -> list[str]:
    """What was measured, how, where and when."""
    command = shlex.join([".venv/bin/python", "-m", "bench.turn_cost", *argv])
    postgres = f"; {run.postgres_version}" if run.postgres_version else ""
    return [
        f"Measured {run.started:%Y-%m-%d %H:%M} UTC in {run.seconds:.0f} s with `{command}`.",
        "",
        "- **The turn**: `POST /api/{user_id}/chat` with `add buy milk` (JSON), through the"
        " public HTTP API in-process (`httpx.ASGITransport`, no socket), the built-in offline"
        " model calling the real `add_task` MCP tool; rate limits off; a new conversation every"
        " 10 turns, so history stays short.",
        "- **How**: each revision in its own process (`bench/turn_cost_probe.py`, its tree on"
        f" `PYTHONPATH`) on a fresh database it migrated itself; {run.warmup} warm-up turns,"
        f" then {run.turns_per_round} timed, the two processes taking turns (old new, new old,"
        f" ...); {run.rounds} rounds, each with new processes and databases:"
        f" {run.turns_per_round * run.rounds} timed turns per revision and database.",
        "- **Statements/turn**: every `before_cursor_execute` on any SQLAlchemy engine in the"
        " process (ORM and Core; an `executemany` once). BEGIN, COMMIT, ROLLBACK and pre-pings"
        " are not cursor executes and are not in it. **Checkouts/turn**: connections taken from"
        " the pool; on PostgreSQL TaskPilot pre-pings, so each is also a `SELECT 1` round trip.",
        "- **CPU ms/turn**: `time.process_time_ns()` of the probe process (all threads, so"
        " aiosqlite's; not the PostgreSQL server's), from sending the request until the tasks"
        " it started have ended; median of all timed turns (in brackets, the lowest and highest"
        " round's, which move with the machine's load), and mean. It includes the in-process"
        " HTTP client, the same on both sides. On the new / old row the median is paired: the"
        " median of new ÷ old over turns run back to back (turn k of each process in a round),"
        " in brackets the lowest and highest round's; a difference within that range is noise"
        " (a revision compared with itself, `--compare HEAD --current HEAD`, shows this"
        " machine's). **Wall p50**: the median time from request to whole response.",
        f"- **Machine**: {machine['cpu']}; {machine['os']}; {machine['python']}{postgres}."
        f" {machine['packages']}.",
        "",
    ]


def _rows(run: Run, database: str) -> list[list[str]]:
    """One database's rows: old, new, and new / old."""
    old, new = run.series[(database, "old")], run.series[(database, "new")]
    rows = []
    for revision, series in ((run.old, old), (run.new, new)):
        spread = f"{min(series.round_cpu_ms):.1f}–{max(series.round_cpu_ms):.1f}"
        rows.append(
            [
                database,
                f"{revision.role}: {revision.label}",
                _number(series.statements_per_turn),
                _number(series.checkouts_per_turn),
                f"{_number(series.cpu.p50)} ({spread})",
                _number(series.cpu.mean),
                _number(series.wall.p50),
            ]
        )
    rows.append(
        [
            database,
            "**new / old**",
            _ratio(new.statements_per_turn, old.statements_per_turn),
            _ratio(new.checkouts_per_turn, old.checkouts_per_turn),
            _paired_cpu(new, old),
            _ratio(new.cpu.mean, old.cpu.mean),
            _ratio(new.wall.p50, old.wall.p50),
        ]
    )
    return rows


def render(run: Run, argv: list[str], machine: dict[str, str]) -> str:
    """The comparison as Markdown: what was measured and how, then the table."""
    header = ["Database", "Revision", "Statements/turn", "Checkouts/turn"]
    header += ["CPU ms/turn (median)", "CPU ms/turn (mean)", "Wall p50 ms"]
    lines = [f"# What one chat turn costs: {run.old.label} → {run.new.label}", ""]
    lines += _method(run, argv, machine)
    lines += ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for database in run.databases:
        lines += ["| " + " | ".join(row) + " |" for row in _rows(run, database)]
    lines += ["", "Statements per turn by kind, and new connections:", ""]
    for (database, role), series in run.series.items():
        lines.append(f"- {database}, {role}: {_kinds(series)}")
    for (database, role), series in run.series.items():
        if series.lingering_tasks:
            lines.append(
                f"- {database}, {role}: {series.lingering_tasks} tasks started by a turn were"
                " still running when the probe stopped waiting for them (see SETTLE_SECONDS)."
            )
    for database, reason in run.skipped.items():
        lines += ["", f"{database} was skipped: {reason}."]
    return "\n".join(lines) + "\n"


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.turn_cost",
        description="SQL statements and CPU per chat turn, before and after a change.",
    )
    parser.add_argument("--compare", required=True, metavar="REV", help="the old revision")
    parser.add_argument(
        "--current", metavar="REV", help="the new revision (default: the work tree as it is)"
    )
    parser.add_argument(
        "--turns", type=_positive, default=200, help="timed turns per revision and database"
    )
    parser.add_argument(
        "--rounds", type=_positive, default=4, help="fresh processes per revision and database"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed turns per process")
    parser.add_argument("--quick", action="store_true", help="40 turns in 2 rounds: a smoke run")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the Markdown file")
    args = parser.parse_args(argv)
    if args.quick:
        args.turns, args.rounds, args.warmup = 40, 2, 5
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    admin_url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_ADMIN_URL
    clock = time.monotonic()
    with ExitStack() as stack:
        old, new = revisions(stack, args.compare, args.current)
        run = Run(
            old,
            new,
            turns_per_round=math.ceil(args.turns / args.rounds),
            rounds=args.rounds,
            warmup=args.warmup,
            started=datetime.now(UTC),
            databases=[SQLITE],
        )
        reason = "--skip-postgres" if args.skip_postgres else postgres_unreachable(admin_url)
        if reason is None:
            run.databases.append(POSTGRES)
            run.postgres_version = postgres_version(admin_url)
        else:
            run.skipped[POSTGRES] = reason
            log(f"PostgreSQL skipped: {reason}")
        log(f"old: {old.label} in {old.tree}; new: {new.label} in {new.tree}")
        try:
            measure(run, admin_url)
        except ProbeFailed as exc:
            log(str(exc))
            if args.current is None:
                log("(to measure a commit instead of the work tree: --current REV)")
            return 1
    run.seconds = time.monotonic() - clock
    report = render(run, argv, environment())
    print(report)
    args.output.write_text(report)
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
