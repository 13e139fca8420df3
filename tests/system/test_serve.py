"""The scripted production start: what it refuses, what it prepares once, and a real run of
two workers on PostgreSQL and Redis that share their limits and log JSON lines."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from taskpilot import serve
from tests.support.app_server import JWT_SECRET
from tests.support.cluster import launch, stop_server, wait_until_serving
from tests.support.harness import POSTGRES_ENV, REDIS_URL, make_settings, needs_redis


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
    command = serve.reflex_command(host="0.0.0.0", port=3000, backend_only=False)  # noqa: S104
    assert command[:3] == [sys.executable, "-m", "taskpilot.workers"]
    assert command[3:] == [
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


@needs_redis
def test_two_workers_on_postgres_share_limits_and_log_json(
    fresh_postgres: str, tmp_path: Path
) -> None:
    server = launch(
        "serve",
        tmp_path,
        fresh_postgres,
        "http://127.0.0.1:9/v1",  # unused: the offline model answers
        workers=2,
        redis_url=REDIS_URL,
        extra_env={"MODEL_PROVIDER": "offline", "CHAT_TURNS_PER_MINUTE": "3"},
    )
    try:
        wait_until_serving(server, workers=2)
        # Migrated once, by serve, before the workers started.
        engine = sa.create_engine(fresh_postgres)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
        engine.dispose()

        base = server.base_url
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
        stop_server(server)

    log = server.log_text()
    lines = [json.loads(raw) for raw in log.splitlines() if raw.startswith("{")]
    chats = [line for line in lines if line.get("path", "").endswith("/chat")]
    assert {line["request_id"] for line in chats} == {f"serve-{i}" for i in range(12)}
    pids = {line["pid"] for line in chats}
    assert len(pids) == 2, f"one worker served every request ({pids}); limits not shown shared"
    assert "serve check" not in log  # no message text in the logs
    assert me["access_token"] not in log and JWT_SECRET not in log


def test_granian_is_told_to_replace_a_worker_that_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    import granian.server

    from taskpilot.workers import RESPAWN_INTERVAL_SECONDS, respawning_workers

    monkeypatch.setattr(granian.server, "Server", granian.server.Server)  # restored after
    respawning_workers()
    server = granian.server.Server(target="taskpilot.taskpilot:app", workers=2)
    assert server.respawn_failed_workers is True
    assert server.respawn_interval == RESPAWN_INTERVAL_SECONDS


def test_the_metrics_directory_is_shared_and_emptied_at_each_start(tmp_path: Path) -> None:
    chosen = tmp_path / "metrics"
    chosen.mkdir()
    (chosen / "counter_123.db").write_text("an earlier run's numbers")
    assert serve.metrics_directory({"PROMETHEUS_MULTIPROC_DIR": str(chosen)}) == chosen
    assert list(chosen.iterdir()) == []
