"""The one place that knows how to reach the database.

The server is async end to end, so queries run on an async engine (aiosqlite for the
default SQLite file, psycopg 3 for PostgreSQL/Neon). Alembic and Reflex's `reflex db`
commands use the synchronous form of the same URL.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.core import metrics
from taskpilot.core.config import PROJECT_ROOT, Settings, get_settings
from taskpilot.core.errors import DATABASE_DOWN, ErrorCode, TaskPilotError


class DatabaseUnavailable(TaskPilotError):
    """The database could not be reached (an outage, not a bug): the API answers 503."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.DATABASE_UNAVAILABLE, DATABASE_DOWN, retry_after=5)


def _normalise(url: str) -> sa.URL:
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sync_url(url: str) -> str:
    """The URL for synchronous tools (Alembic, `reflex db`): psycopg 3 or plain sqlite."""
    parsed = _normalise(url)
    if parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The URL for the server's async engine."""
    parsed = _normalise(url)
    if parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    """Whether the URL names a SQLite database."""
    return _normalise(url).drivername.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


# A pooled connection idle longer than this is checked with a ping before it is handed out
# (the server may have closed it: Neon scales to zero, a failover, an idle timeout). One in
# steady use is not: pinging every checkout cost a round trip per transaction, ~5 per turn.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's pre-ping, for connections that sat idle only. A dead one is replaced
    before use (`DisconnectionError` makes the pool connect afresh); one that dies while in
    use fails its request with a 503 and invalidates the pool's older connections, so the
    next request gets a fresh one."""
    sync = engine.sync_engine

    def checked_in(_dbapi: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = sync.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError("an idle pooled connection was closed") from exc
        if not alive:
            raise DisconnectionError("an idle pooled connection was closed")

    event.listen(sync, "checkin", checked_in)
    event.listen(sync, "checkout", checked_out)


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the async engine for these settings."""
    url = settings.database_url
    kwargs: dict[str, Any] = {}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 10}}
    else:
        if "-pooler" in (make_url(url).host or ""):
            # Neon's pooled endpoint is PgBouncer in transaction mode: a statement psycopg
            # prepared on one server connection may be missing on the next, so don't prepare.
            kwargs["connect_args"] = {"prepare_threshold": None}
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_recycle=300,  # Neon closes idle connections; recycle before it does.
            pool_timeout=settings.db_pool_timeout,
        )
    # A database error quotes its statement; without this it quotes the bound values too
    # (`[parameters: ...]`): task titles, questions, tool calls. Errors are logged, and the
    # logs carry no one's text (see `taskpilot.core.logs`).
    engine = create_async_engine(async_url(url), hide_parameters=True, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        _ping_when_idle(engine)
    return engine


def _count_pool_use(engine: AsyncEngine) -> None:
    """Keep the pool gauges, read from the pool itself at each checkout and checkin (so they
    cannot drift, even when a checkout fails during an outage). The size is reported once the
    pool has connected: a process that never touches the database (Reflex's CLI importing the
    app) adds nothing to the workers' sum."""
    sync = engine.sync_engine
    if not isinstance(sync.pool, QueuePool):  # both SQLite files and PostgreSQL use one
        return

    def pool() -> QueuePool:
        return cast(QueuePool, sync.pool)  # `dispose()` swaps in a new one

    def connected(*_: Any) -> None:
        metrics.DB_POOL_SIZE.set(pool().size())

    def checked_out(*_: Any) -> None:
        metrics.DB_POOL_CHECKED_OUT.set(pool().checkedout())

    def checked_in(*_: Any) -> None:  # called just before the pool takes it back
        metrics.DB_POOL_CHECKED_OUT.set(pool().checkedout() - 1)

    event.listen(sync, "connect", connected)
    event.listen(sync, "checkout", checked_out)
    event.listen(sync, "checkin", checked_in)


class Database:
    """An engine and its session factory. One per process, shared by every request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        _count_pool_use(self.engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; connection failures surface as `DatabaseUnavailable`."""
        try:
            async with self._sessions() as session:
                yield session
        except (OperationalError, DBAPIError, OSError, PoolTimeout) as exc:
            # Pool exhausted, connection refused or dropped: the database can't serve us now.
            # Other driver errors (a constraint, bad SQL) are bugs or conflicts, not outages.
            if (
                isinstance(exc, DBAPIError)
                and not exc.connection_invalidated
                and not isinstance(exc, OperationalError)
            ):
                raise
            raise DatabaseUnavailable() from exc

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        """Close pooled connections."""
        await self.engine.dispose()


def alembic_config(url: str | None = None) -> Any:
    """An Alembic config pointing at the repository's `alembic/` folder."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = sync_url(url or get_settings().database_url)
    return config


def migrate(url: str | None = None) -> None:
    """Bring the database schema to the newest migration."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
