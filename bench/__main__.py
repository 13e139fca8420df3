"""`python -m bench`: measure TaskPilot's server overhead and write bench/RESULTS.md.

    python -m bench                  the full run (200 turns per measurement), ~3-4 minutes
    python -m bench --quick          a few iterations of everything, for CI (< 60 s)
    python -m bench --turns 500      more turns per measurement
    python -m bench --skip-postgres  SQLite only
    python -m bench --output PATH    write the results elsewhere (default bench/RESULTS.md)

PostgreSQL: a throwaway database is created from the admin URL in
$TASKPILOT_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
and dropped at the end; when that server is unreachable PostgreSQL is skipped, with the
reason printed and written to the results.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bench.report import render
from bench.runner import RunConfig, log, run

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"
QUIET_LOGGERS = (
    "mcp",
    "httpx",
    "httpx2",
    "httpcore",
    "uvicorn",
    "openai",
    "openai.agents",
    "agents",
    "sse_starlette",
    "alembic",
)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few iterations of everything (CI smoke, < 60 s)"
    )
    parser.add_argument(
        "--turns",
        type=_positive,
        default=None,
        help="timed turns per measurement (default 200; 15 with --quick)",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the results (default {DEFAULT_OUTPUT.name} in bench/)",
    )
    return parser.parse_args(argv)


def quiet_logging() -> None:
    """Keep library INFO chatter (MCP server, httpx2 requests, Alembic) out of the output."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the results file."""
    args = parse_args(argv)
    quiet_logging()
    if args.quick:
        config = RunConfig.quick_smoke(args.turns or 15, args.skip_postgres)
    else:
        config = RunConfig.full(args.turns or 200, args.skip_postgres)
    results = asyncio.run(run(config))
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results, sys.argv[1:] if argv is None else argv))
    log(f"wrote {output} ({results.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
