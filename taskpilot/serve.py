"""Start TaskPilot in production: migrations once, then N stateless workers on one port.

    python -m taskpilot.serve --workers 4 --port 3000          (what `make run-workers` runs)
    python -m taskpilot.serve --workers 2 --backend-only       (API, /mcp and Reflex's websocket)

Workers share nothing but PostgreSQL and Redis, so more of them (here, or on other machines
behind a load balancer) is how TaskPilot grows. This script refuses a setup that would break
that promise (several workers and no Redis) and prepares what must happen exactly once:
the schema migration and, when no JWT_SECRET is set, the local signing secret (workers that
each created their own would reject one another's tokens). Then it hands over to
`reflex run --env prod` (through `taskpilot.workers`), whose Granian server forks the workers
and replaces one that dies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from taskpilot.core.config import PROJECT_ROOT, Settings, get_settings
from taskpilot.core.db import is_sqlite, migrate

TOOLS_BIN = PROJECT_ROOT / ".tools" / "node_modules" / ".bin"


class UnsafeSetup(SystemExit):
    """The settings cannot run the requested number of workers safely."""


def check(settings: Settings, workers: int) -> list[str]:
    """Refuse what cannot work with this many workers; return warnings for what is risky."""
    if workers < 1:
        raise UnsafeSetup("--workers must be at least 1.")
    warnings: list[str] = []
    if workers > 1 and not settings.reflex_redis_url:
        raise UnsafeSetup(
            f"{workers} workers need REFLEX_REDIS_URL (e.g. redis://127.0.0.1:6379/0): Reflex "
            "keeps each page's state there, and the rate limits are shared through it."
        )
    if is_sqlite(settings.database_url):
        warnings.append(
            "DATABASE_URL is a SQLite file: fine on one machine, but workers on other machines"
            " need PostgreSQL (postgresql+psycopg://…)."
        )
    if settings.jwt_secret is None:
        warnings.append(
            "JWT_SECRET is not set: using the local secret in .taskpilot/secret_key, which"
            " workers on other machines do not have."
        )
    return warnings


def reflex_command(*, host: str, port: int, backend_only: bool) -> list[str]:
    """The `reflex run --env prod` command line for one port."""
    command = [
        sys.executable,
        "-m",
        "taskpilot.workers",  # `reflex`, with Granian replacing a worker that dies
        "run",
        "--env",
        "prod",
        "--backend-host",
        host,
        "--backend-port",
        str(port),
    ]
    if backend_only:
        return [*command, "--backend-only"]
    return [*command, "--frontend-port", str(port)]


def reflex_env(workers: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Reflex needs here: the pinned bun and node, no phoning home."""
    env = dict(os.environ if environ is None else environ)
    if TOOLS_BIN.is_dir():
        env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    env["GRANIAN_WORKERS"] = str(workers)
    if "NPM_CONFIG_REGISTRY" not in env and (npm := shutil.which("npm", path=env["PATH"])):
        registry = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
            [npm, "config", "get", "registry"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if registry:
            env["NPM_CONFIG_REGISTRY"] = registry
    return env


def metrics_directory(environ: dict[str, str]) -> Path:
    """Where every worker writes its metrics, so a scrape of any one adds them all up
    (`PROMETHEUS_MULTIPROC_DIR`, or `.taskpilot/metrics`), emptied at each start: an earlier
    run's files would add to the totals. Two servers on one machine need two directories."""
    directory = Path(
        environ.get("PROMETHEUS_MULTIPROC_DIR") or PROJECT_ROOT / ".taskpilot" / "metrics"
    )
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, prepare once, then become `reflex run`."""
    parser = argparse.ArgumentParser(prog="python -m taskpilot.serve", description=__doc__)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--backend-only",
        action="store_true",
        help="Serve /api, /mcp and Reflex's websocket only (pages served elsewhere).",
    )
    parser.add_argument(
        "--skip-migrations", action="store_true", help="The schema is migrated by a deploy step."
    )
    args = parser.parse_args(argv)

    settings = get_settings()
    try:
        warnings = check(settings, args.workers)
    except UnsafeSetup as exc:
        print(f"taskpilot.serve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    for warning in warnings:
        print(f"taskpilot.serve: note: {warning}", file=sys.stderr)
    if not args.skip_migrations:
        migrate(settings.database_url)
    settings.signing_secret  # noqa: B018 - create the local secret once, before any fork
    env = reflex_env(args.workers)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_directory(env))
    command = reflex_command(host=args.host, port=args.port, backend_only=args.backend_only)
    print(f"taskpilot.serve: {args.workers} worker(s) on {args.host}:{args.port}", file=sys.stderr)
    sys.stdout.flush()
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, env)  # noqa: S606 - our own reflex


if __name__ == "__main__":  # pragma: no cover - the module is run by `python -m`
    main()
