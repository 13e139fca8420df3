"""Throwaway databases for a benchmark run: a fresh SQLite file and a fresh PostgreSQL database.

Both are migrated from empty with `taskpilot.core.db.migrate`, exactly as a deployment is.
The PostgreSQL one is created from an admin URL and dropped when the run ends.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from taskpilot.core.db import migrate, sync_url

POSTGRES_ENV = "TASKPILOT_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class BenchDatabase:
    """A migrated, empty database the benchmark may fill: a label and a SQLAlchemy URL."""

    label: str
    url: str


def postgres_admin_url() -> str:
    """The admin URL from which throwaway databases are created."""
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_ADMIN_URL


def libpq_url(url: str) -> str:
    """A URL psycopg accepts directly (no SQLAlchemy driver suffix)."""
    return sync_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_unreachable(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used (a readable reason), or None when it can."""
    try:
        with psycopg.connect(libpq_url(admin_url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = sa.make_url(admin_url).render_as_string()  # password hidden
        return f"PostgreSQL at {where} is unreachable: {detail}"


@contextmanager
def sqlite_database(directory: Path | None = None) -> Iterator[BenchDatabase]:
    """A fresh, migrated SQLite file in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="taskpilot-bench-", dir=directory) as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        yield BenchDatabase("SQLite", url)


@contextmanager
def empty_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database created from `admin_url` (its URL), dropped
    afterwards."""
    admin = libpq_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(admin).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database(admin_url: str) -> Iterator[BenchDatabase]:
    """A fresh, migrated PostgreSQL database created from `admin_url`, dropped afterwards."""
    with empty_postgres_database(admin_url, "taskpilot_bench") as url:
        migrate(url)
        yield BenchDatabase("PostgreSQL", url)
