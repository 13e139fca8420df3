"""`python -m bench.load`: many simulated users chatting at once with TaskPilot's production
start (2 Granian workers on PostgreSQL and Redis), against a model double with a real model's
timing. Writes bench/LOAD.md.

    python -m bench.load                 1 (alone), 50, 200 and 500 conversations (~5 min)
    python -m bench.load --quick         1, 20 and 50 conversations, few turns (CI, ~1 min)
    python -m bench.load --levels 100 --turns 5 --think 2
    python -m bench.load --client httpx  the same users on httpx instead of raw asyncio streams
    python -m bench.load --profile       also sample the workers with py-spy (if installed)
    python -m bench.load --set DB_POOL_SIZE=20 --tree ../scratch   measure a change
    python -m bench.load --output PATH   write the results elsewhere (default bench/LOAD.md)
    python -m bench.load --keep R.pickle / --render R.pickle   keep a run / re-render it

What runs: the model double (`bench/model_double.py`) in a process of its own; TaskPilot as
production starts it, `python -m taskpilot.serve --workers 2 --backend-only` (migrations
once, then `reflex run --env prod`, whose Granian server forks the workers), on a throwaway
PostgreSQL database created from $TASKPILOT_BENCH_POSTGRES_URL's server and dropped at the
end, with Reflex's state in Redis database $TASKPILOT_LOAD_REDIS_URL (default
redis://127.0.0.1:6379/13, flushed before and after); and this process, the users. Everything
started is stopped (SIGINT to its process group) on every way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from bench.load.config import ROOT, LoadConfig, log
from bench.load.report import render
from bench.load.results import LoadResults
from bench.load.run import run

DEFAULT_OUTPUT = ROOT / "bench" / "LOAD.md"


def _levels(value: str) -> tuple[int, ...]:
    levels = tuple(int(part) for part in value.split(",") if part.strip())
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels are positive integers, e.g. 50,200,500")
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="20 and 50 conversations (CI)")
    parser.add_argument(
        "--fail-on-errors", action="store_true", help="exit 1 if any turn of any level failed"
    )
    parser.add_argument("--levels", type=_levels, help="concurrent conversations, e.g. 50,200")
    parser.add_argument("--turns", type=int, help="turns per conversation at every level")
    parser.add_argument("--think", type=float, help="mean seconds between a reply and the next")
    parser.add_argument("--client", choices=("raw", "httpx"), help="the HTTP client (raw)")
    parser.add_argument("--workers", type=int, help="Granian workers (2)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra TaskPilot setting for the workers (e.g. DB_POOL_SIZE=20)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the workers with py-spy in an extra level (py-spy on PATH,"
        " in the venv, or given by --py-spy)",
    )
    parser.add_argument("--py-spy", dest="py_spy", type=Path, help="the py-spy executable")
    parser.add_argument(
        "--tree",
        type=Path,
        help="run the workers from this checkout instead (to measure a change; same venv)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="PATH",
        help="also keep the run's raw results (pickle) and, beside them, the workers' log",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="PATH",
        help="only rewrite the report from results kept by --keep (no run)",
    )
    return parser.parse_args(argv)


def find_py_spy(given: Path | None) -> str | None:
    """The py-spy executable to profile with, or None."""
    if given is not None:
        return str(given) if given.exists() else None
    venv = Path(sys.executable).with_name("py-spy")
    return str(venv) if venv.exists() else shutil.which("py-spy")


def config_from(args: argparse.Namespace) -> LoadConfig:
    """The run's configuration from the command line."""
    overrides: dict[str, Any] = {}
    if args.levels:
        overrides["levels"] = args.levels
    if args.think is not None:
        overrides["think_s"] = args.think
        if args.think > 0:  # people arrive spread over a pause, and get time for every turn
            turns = args.turns or 3
            overrides["ramp_s"] = args.think
            overrides["budget_s"] = max(90.0, args.think * (turns + 1) * 1.5)
    if args.client:
        overrides["client"] = args.client
    if args.workers:
        overrides["workers"] = args.workers
    if args.set:
        if any("=" not in item for item in args.set):
            raise SystemExit("--set takes NAME=VALUE")
        overrides["extra_env"] = tuple(tuple(item.split("=", 1)) for item in args.set)
    if args.profile:
        overrides["py_spy"] = find_py_spy(args.py_spy)
    if args.tree:
        overrides["tree"] = args.tree.resolve()
    if args.keep:
        overrides["keep_log"] = args.keep.with_suffix(".serve.log")
    config = LoadConfig.quick_smoke(**overrides) if args.quick else LoadConfig.full(**overrides)
    if args.turns or len(config.turns) != len(config.levels):
        each = args.turns or config.turns[-1]
        config = LoadConfig(**{**config.__dict__, "turns": (each,) * len(config.levels)})
    return config


def _sigterm(*_: Any) -> None:
    raise KeyboardInterrupt  # unwind through the cleanup, as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    """Run the load benchmark and write LOAD.md."""
    args = parse_args(argv)
    output: Path = args.output
    try:
        return _main(args, argv, output)
    except KeyboardInterrupt:
        log("interrupted: everything started was stopped")
        return 130


def _main(args: argparse.Namespace, argv: list[str] | None, output: Path) -> int:
    if args.render:
        kept: tuple[LoadResults, list[str]] = pickle.loads(args.render.read_bytes())  # noqa: S301
        output.write_text(render(*kept))
        log(f"wrote {output} from {args.render}")
        return 0
    config = config_from(args)
    signal.signal(signal.SIGTERM, _sigterm)
    results = run(config)
    if args.profile and config.py_spy is None:
        results.profile_skipped = (
            "--profile was given but no py-spy was found (`pip install py-spy`, or --py-spy)"
        )
    given = sys.argv[1:] if argv is None else argv
    # What the report names as its command: without where the raw results were kept.
    command = [a for i, a in enumerate(given) if a != "--keep" and given[i - 1 : i] != ["--keep"]]
    if args.keep:
        args.keep.write_bytes(pickle.dumps((results, command)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results, command))
    log(f"wrote {output} ({results.seconds:.0f} s)")
    failed = {level.conversations: dict(level.errors) for level in results.levels if level.errors}
    if args.fail_on_errors and failed:
        log(f"errors under load: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
