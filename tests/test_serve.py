"""The scripted production start: what it refuses, what it prepares once, and a real run of
two workers on PostgreSQL and Redis that share their limits and log JSON lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from taskpilot import serve
from taskpilot.core.config import PROJECT_ROOT, Settings
from tests.browser.app_server import coverage_config
from tests.conftest import POSTGRES_ENV, free_port, make_settings
from tests.test_limits import REDIS_URL, needs_redis

SECRET = "serve-tests-jwt-secret-0123456789abcdef"


def test_several_workers_need_redis_and_one_worker_needs_nothing(sqlite_url: str) -> None:
    local = make_settings(sqlite_url, jwt_secret=None)
    with pytest.raises(serve.UnsafeSetup, match="2 workers need REFLEX_REDIS_URL"):
        serve.check(local, 2)
    with pytest.raises(serve.UnsafeSetup, match="at least 1"):
        serve.check(local, 0)
    notes = serve.check(local, 1)
    assert any("SQLite" in note for note in notes)
    assert any("JWT_SECRET is not set" in note for note in notes)
    shared = make_settings(
        "postgresql+psycopg://db.example/x", reflex_redis_url="redis://cache.example:6379/0"
    )
    assert serve.check(shared, 4) == []


def test_the_reflex_command_and_environment() -> None:
    assert serve.reflex_command(host="0.0.0.0", port=3000, backend_only=False)[1:] == [  # noqa: S104
        "run",
        "--env",
        "prod",
        "--backend-host",
        "0.0.0.0",  # noqa: S104
        "--backend-port",
        "3000",
        "--frontend-port",
        "3000",
    ]
    assert serve.reflex_command(host="h", port=1, backend_only=True)[-1] == "--backend-only"
    env = serve.reflex_env(3, {"PATH": "/usr/bin", "NPM_CONFIG_REGISTRY": "https://r.example"})
    assert env["GRANIAN_WORKERS"] == "3" and env["REFLEX_TELEMETRY_ENABLED"] == "false"
    assert env["NPM_CONFIG_REGISTRY"] == "https://r.example"
    assert env["PATH"].startswith(str(serve.TOOLS_BIN)) == serve.TOOLS_BIN.is_dir()


def test_main_refuses_an_unsafe_setup_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    monkeypatch.setattr(serve, "get_settings", lambda: make_settings(sqlite_url))
    with pytest.raises(SystemExit) as exited:
        serve.main(["--workers", "3"])
    assert exited.value.code == 2
    assert "3 workers need REFLEX_REDIS_URL" in capsys.readouterr().err


# --- a real run -------------------------------------------------------------------------------


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (no tables: serve must migrate)."""
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"taskpilot_serve_{uuid.uuid4().hex[:8]}"
    plain = admin.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _serve_env(database_url: str, **extra: str) -> dict[str, str]:
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.pop("GRANIAN_WORKERS", None)
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    env.update(
        DATABASE_URL=database_url,
        REFLEX_REDIS_URL=REDIS_URL,
        JWT_SECRET=SECRET,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    if cov := coverage_config():
        env["COVERAGE_PROCESS_CONFIG"] = cov
    return env


def _workers(pid: int) -> set[int]:
    """Granian's worker processes: the children of the children of `serve`'s process."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(child) for child in task.read_text().split())
        except OSError:
            continue
    return found


@needs_redis
def test_two_workers_on_postgres_share_limits_and_log_json(
    fresh_postgres: str, tmp_path: Path
) -> None:
    port, log_path = free_port(), tmp_path / "serve.log"
    env = _serve_env(fresh_postgres, CHAT_TURNS_PER_MINUTE="3", LOG_FORMAT="json")
    command = [sys.executable, "-m", "taskpilot.serve", "--workers", "2", "--backend-only"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        assert len(_workers(process.pid)) == 2
        # Migrated once, by serve, before the workers started.
        engine = sa.create_engine(fresh_postgres)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
        engine.dispose()

        email = f"{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": "correct horse battery"}
        me = httpx.post(f"{base}/api/auth/signup", json=body, timeout=10).json()
        headers = {"Authorization": f"Bearer {me['access_token']}"}
        statuses: list[int] = []
        for index in range(12):  # a new connection each: Granian spreads them over workers
            reply = httpx.post(
                f"{base}/api/{me['user']['id']}/chat",
                json={"message": f"add serve check {index}"},
                headers={**headers, "X-Request-ID": f"serve-{index}"},
                timeout=30,
            )
            statuses.append(reply.status_code)
            if reply.status_code == 429:
                assert int(reply.headers["retry-after"]) > 0
        assert statuses.count(200) == 3 and statuses.count(429) == 9, statuses
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    lines: list[dict[str, Any]] = []
    for raw in log_path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    chats = [line for line in lines if line.get("path", "").endswith("/chat")]
    assert {line["request_id"] for line in chats} == {f"serve-{i}" for i in range(12)}
    pids = {line["pid"] for line in chats}
    assert len(pids) == 2, f"one worker served every request ({pids}); limits not shown shared"
    assert "serve check" not in log_path.read_text()  # no message text in the logs
    assert SECRET not in log_path.read_text() and me["access_token"] not in log_path.read_text()
