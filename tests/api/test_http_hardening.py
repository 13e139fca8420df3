"""What every HTTP response carries (security headers, a request id), what the logs say
(one JSON line per request, the id on every line of the work it started, no message text or
secrets), and CORS from settings."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message

from taskpilot.api import sse
from taskpilot.api.app import create_api
from taskpilot.core.config import Settings
from taskpilot.core.logs import configure, mask_secrets
from taskpilot.runtime import Runtime
from tests.support.harness import api_client, make_settings, scripted_runtime, sign_up

SECRET_TEXT = "my-private-plan-7f3e"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """TaskPilot's logs as configured in production (JSON, INFO), captured."""
    stream = io.StringIO()
    logger = configure(make_settings("sqlite://", log_level="INFO"), stream)
    yield stream
    for handler in list(logger.handlers):
        if getattr(handler, "_taskpilot", False):
            logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_api_responses_carry_security_headers_and_are_not_cached(
    client: httpx.AsyncClient,
) -> None:
    for response in (
        await client.get("/api/health"),
        await client.get("/api/nope"),
        await client.post("/api/auth/login", content=b"x" * 70_000),  # 413 from the middleware
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers
    # Pages (here: the app below the API) get a policy that lets the React app load.
    page = await client.get("/some/page")
    policy = page.headers["content-security-policy"]
    assert policy.startswith("script-src 'self' 'unsafe-eval' https://cdn.platform.openai.com")
    assert "frame-ancestors 'none'" in policy
    assert "cache-control" not in page.headers
    docs = await client.get("/api/docs")
    assert "default-src 'none'" not in docs.headers["content-security-policy"]


async def test_hsts_is_sent_when_configured(sqlite_url: str, running: Any) -> None:
    settings = make_settings(sqlite_url, hsts_seconds=31536000)
    runtime = await running(Runtime(settings, model=ScriptedModel([])))
    async with api_client(runtime) as http:
        response = await http.get("/api/health")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_each_request_gets_an_id_or_keeps_the_proxys(client: httpx.AsyncClient) -> None:
    fresh = (await client.get("/api/health")).headers["x-request-id"]
    other = (await client.get("/api/health")).headers["x-request-id"]
    assert len(fresh) == 32 and fresh != other
    kept = await client.get("/api/health", headers={"X-Request-ID": "lb-42.abc"})
    assert kept.headers["x-request-id"] == "lb-42.abc"
    for bad in ("has spaces", "x" * 65, "new\nline"):
        replaced = await client.get("/api/health", headers={"X-Request-ID": bad})
        assert replaced.headers["x-request-id"] != bad


async def test_logs_are_json_with_the_request_id_and_no_message_text(
    settings: Settings, running: Any, log_lines: io.StringIO
) -> None:
    # A turn that fails: its error line is written by the turn's own task, after the
    # request that started it has answered, and must still carry that request's id.
    model = ScriptedModel([ModelStep(output=[], error=RuntimeError("model exploded"))])
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        token = me["headers"]["Authorization"].removeprefix("Bearer ")
        reply = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": f"add {SECRET_TEXT}"},
            headers={**me["headers"], "X-Request-ID": "req-turn-1"},
        )
        assert reply.status_code == 500
        await runtime.turns.settle()
    text = log_lines.getvalue()
    assert SECRET_TEXT not in text and token not in text and "correct horse" not in text
    lines = parsed(log_lines)
    access = [line for line in lines if line["logger"] == "taskpilot.access"]
    chat = next(line for line in access if line["path"].endswith("/chat"))
    assert chat["request_id"] == "req-turn-1" and chat["status"] == 500
    assert chat["method"] == "POST" and chat["level"] == "INFO"
    assert isinstance(chat["duration_ms"], float) and "ts" in chat
    failed = next(line for line in lines if line["msg"] == "turn failed")
    assert failed["request_id"] == "req-turn-1" and failed["code"] == "internal_error"
    assert "model exploded" in failed["error"]  # the traceback, at ERROR, for the operator


async def test_a_streamed_turn_is_logged_when_it_ends(
    settings: Settings, running: Any, log_lines: io.StringIO
) -> None:
    model = ScriptedModel([[assistant_message("fine")]])
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        async with http.stream(
            "POST",
            f"/api/{me['id']}/chat",
            json={"message": SECRET_TEXT},
            headers={**me["headers"], "Accept": "text/event-stream"},
        ) as response:
            body = await response.aread()
            rid = response.headers["x-request-id"]
    assert sse.parse_events(body)[-1].event == "done"
    lines = parsed(log_lines)
    chat = next(line for line in lines if line.get("path", "").endswith("/chat"))
    assert chat["request_id"] == rid and chat["status"] == 200
    done = next(line for line in lines if line["msg"] == "turn done")
    assert done["request_id"] == rid and done["tool_calls"] == 0 and done["duration_ms"] > 0
    assert SECRET_TEXT not in log_lines.getvalue()


def test_secret_shapes_are_masked_in_any_log_line() -> None:
    line = (
        "Authorization: Bearer abc.def-ghi key sk-proj-abcdefghijklmnop "
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig-nature "
        "url postgresql://neondb_owner:pa55word@ep-x.neon.tech/db"
    )
    masked = mask_secrets(line)
    for secret in ("abc.def-ghi", "sk-proj-abcdefghijklmnop", "eyJzdWIiOiJ4In0", "pa55word"):
        assert secret not in masked
    assert "Bearer ***" in masked and "neondb_owner:***@ep-x.neon.tech" in masked


def test_text_logs_for_a_terminal_and_configure_is_idempotent() -> None:
    stream = io.StringIO()
    settings = make_settings("sqlite://", log_format="text", log_level="DEBUG")
    configure(settings, io.StringIO())
    logger = configure(settings, stream)
    try:
        ours = [h for h in logger.handlers if getattr(h, "_taskpilot", False)]
        assert len(ours) == 1
        logging.getLogger("taskpilot.test").debug("hello", extra={"code": "x1"})
        line = stream.getvalue().strip()
        assert line.endswith("taskpilot.test [-] hello code=x1") and "DEBUG" in line
    finally:
        for handler in ours:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


async def test_cors_allows_the_configured_origins_only(sqlite_url: str, running: Any) -> None:
    settings = make_settings(sqlite_url, allowed_origins="https://tasks.example.com")
    runtime = await running(Runtime(settings, model=ScriptedModel([])))
    app = create_api(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as http:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = await http.options(
            "/api/auth/login", headers={"Origin": "https://tasks.example.com", **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://tasks.example.com"
        denied = await http.options(
            "/api/auth/login", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in denied.headers
        simple = await http.get("/api/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


def test_page_scripts_are_allowed_by_origin_or_by_the_hash_of_the_build(tmp_path: Path) -> None:
    from taskpilot.api.page_csp import inline_script_hashes, page_csp

    (tmp_path / "index.html").write_bytes(
        b'<html><script>window.a=1</script><script src="/x.js"></script>'
        b'<script type="module">import "/m.js";</script><script> </script></html>'
    )
    import base64
    import hashlib

    expected = {
        "'sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode() + "'"
        for code in (b"window.a=1", b'import "/m.js";')
    }
    assert set(inline_script_hashes(tmp_path)) == expected
    policy = page_csp("https://cdn.example.com/chatkit.js", tmp_path).decode()
    assert policy.startswith("script-src 'self' 'unsafe-eval' https://cdn.example.com 'sha256-")
    assert inline_script_hashes(tmp_path / "missing") == []
