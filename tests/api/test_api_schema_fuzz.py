"""Schemathesis against the API's own OpenAPI document, on a real uvicorn server.

Every operation of `/api/openapi.json` is called with generated valid and invalid requests
(examples, coverage and fuzzing phases), signed in with a real user's bearer token; the offline
model answers chat turns through the real MCP tools, and hosted ChatKit sessions come from the
loopback OpenAI stand-in. No response may be a 5xx, and every standard check must hold (status
codes, content types, bodies and headers as documented; invalid input rejected, valid input
accepted; authentication enforced) except the few listed in `CONFIG` as known issues: API bugs
in files this module's author could not change, each to be removed once fixed.

Most calls name the token's own user in the path so they get past the ownership check; the
rest name someone else, and must never succeed.
"""

from __future__ import annotations

import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from schemathesis.core.parameters import ParameterLocation

from taskpilot.api.app import create_api
from taskpilot.core.config import Settings
from taskpilot.runtime import Runtime
from tests.support.harness import OPENAI_KEY, TEST_SECRET, free_port, make_settings
from tests.support.openai_standin import OpenAIStandIn

EXAMPLES_PER_OPERATION = 30
# Rate limits would answer generated requests with 429s before their input is looked at.
NO_LIMITS = {
    name: 0
    for name in (
        "chat_turns_per_minute",
        "max_concurrent_turns",
        "sign_in_attempts",
        "requests_per_minute",
    )
    if name in Settings.model_fields
}
LEAKS = (OPENAI_KEY, TEST_SECRET, "Traceback", 'File "/')


@dataclass
class Person:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class LiveApi:
    base_url: str
    fuzzer: Person
    victim: Person
    # The victim's delete that waits for their approval: its conversation and call ids.
    waiting: dict[str, str]
    victim_before: dict[str, Any] | None = None

    def victim_state(self) -> dict[str, Any]:
        """Everything the victim can see of their own data (the waiting delete included)."""
        with httpx.Client(base_url=self.base_url, headers=self.victim.headers) as http:
            tasks = http.get(f"/api/{self.victim.id}/tasks").json()
            conversations = http.get(f"/api/{self.victim.id}/conversations").json()
            waiting = http.get(
                f"/api/{self.victim.id}/conversations/{self.waiting['conversation_id']}/messages"
            ).json()
        return {"tasks": tasks, "conversations": conversations, "waiting": waiting}


def _sign_up(http: httpx.Client, email: str) -> Person:
    response = http.post(
        "/api/auth/signup", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Person(body["user"]["id"], body["access_token"])


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveApi]:
    """The API app under uvicorn on a free loopback port, on its own SQLite file; a fuzzing
    user, and a victim with tasks, a conversation, and a delete waiting for their approval."""
    path = tmp_path_factory.mktemp("fuzz") / "taskpilot.db"
    shutil.copy(sqlite_template, path)
    with OpenAIStandIn() as standin:
        settings = make_settings(
            f"sqlite:///{path}",
            chatkit_mode="self-hosted",
            chatkit_workflow_id="wf_fuzz",
            openai_api_key=OPENAI_KEY,
            openai_base_url=standin.base_url,
            **NO_LIMITS,
        )
        app = create_api(Runtime(settings))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, name="uvicorn-fuzz", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
            base_url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base_url, timeout=30) as http:
                fuzzer = _sign_up(http, "fuzzer@example.com")
                victim = _sign_up(http, "victim@example.com")
                for message in (
                    "add the victim's private plan #secret",
                    "add call the bank",
                    "delete task 2",
                ):
                    turn = http.post(
                        f"/api/{victim.id}/chat", json={"message": message}, headers=victim.headers
                    )
                    assert turn.status_code == 200, turn.text
                waiting = turn.json()["pending_approval"]
                assert waiting["summary"] == "Delete task 2 · Call the bank"
            live = LiveApi(
                base_url,
                fuzzer,
                victim,
                {
                    "conversation_id": turn.json()["conversation_id"],
                    "call_id": waiting["call_id"],
                    "message_id": str(waiting["message_id"]),  # the question an edit would name
                    "index": "0",  # a call of it, which an Undo would name
                },
            )
            live.victim_before = live.victim_state()
            assert live.victim_before["tasks"]["count"] == 2
            assert live.victim_before["waiting"]["messages"][-1]["status"] == "awaiting"
            yield live
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _openapi_document() -> dict[str, Any]:
    """The document `/api/openapi.json` serves (built by `create_api`; no database is opened)."""
    return create_api(Runtime(make_settings("sqlite://"))).openapi()


def _known_issue(method: str, path: str, *checks: str) -> dict[str, Any]:
    """Turn `checks` off for one operation, for an API bug outside this module's reach."""
    return {
        "include-method": method,
        "include-path": path,
        "checks": {check: {"enabled": False} for check in checks},
    }


CONVERSATION = "/api/{user_id}/conversations/{conversation_id}"
APPROVALS = f"{CONVERSATION}/approvals/{{call_id}}"
CALENDAR_FEED = "/api/{user_id}/calendar-feed"
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
        "seed": 5,
        "operations": [
            # The 405 for another method names only the first of the path's routes in `Allow`
            # (GET; POST for the calendar feed): Starlette answers for that route alone (app.py).
            _known_issue("GET", CONVERSATION, "allow_header_conformance"),
            _known_issue("POST", CALENDAR_FEED, "allow_header_conformance"),
            _known_issue("DELETE", CALENDAR_FEED, "allow_header_conformance"),
            # ChatKit's body is documented as {type, params: object}, but each type needs
            # particular params (taskpilot/api/routes/chatkit.py).
            _known_issue("POST", "/api/chatkit", "positive_data_acceptance"),
            # A false positive of schemathesis 4.32 (fixed upstream in its pull request 4762):
            # a case whose only invalid parts are undeclared query parameters (ignored, as on
            # every route) and a missing Authorization header (which this harness always
            # sends) is expected to be refused. `tests/api/test_api_search.py` checks the 422s.
            _known_issue("GET", "/api/{user_id}/search", "negative_data_rejection"),
        ],
    }
)
DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def _own_user_mostly(case: Any, user_id: str) -> None:
    """Name the token's user in the path, except in about one call in eight (and when the
    path itself is the invalid part of the request)."""
    params = case.path_parameters
    if not params or "user_id" not in params:
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
        return
    if zlib.crc32(repr(sorted(params.items())).encode()) % 8:
        case.path_parameters = {**params, "user_id": user_id}


@schema.parametrize()
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
    case: Any, live_api: LiveApi
) -> None:
    """Generated requests get documented, non-5xx answers that leak nothing; another user's
    path never succeeds, and nothing the fuzzer sends changes the victim's data."""
    _own_user_mostly(case, live_api.fuzzer.id)
    response = case.call_and_validate(base_url=live_api.base_url, headers=live_api.fuzzer.headers)
    assert response.status_code < 500, response.text
    for leak in (*LEAKS, "private plan", live_api.victim.token):
        assert leak not in response.text
    user_id = (case.path_parameters or {}).get("user_id")
    if user_id is not None and user_id != live_api.fuzzer.id:
        assert 400 <= response.status_code < 500, response.text
    if case.method.upper() != "GET":
        assert live_api.victim_state() == live_api.victim_before


def test_the_served_document_is_the_one_fuzzed(live_api: LiveApi) -> None:
    """`/api/openapi.json` on the live server is the document the cases were generated from."""
    served = httpx.get(f"{live_api.base_url}/api/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def test_every_api_operation_documents_that_it_may_be_refused_for_capacity() -> None:
    """A database outage, a full worker or a drain can refuse any route: each says so, except
    the two that need nothing but the process."""
    undocumented = {
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/") and "503" not in operation["responses"]
    }
    assert undocumented == {"GET /api/health/live", "GET /api/info"}


def test_every_user_path_refuses_another_users_id(live_api: LiveApi) -> None:
    """Each `{user_id}` operation of the document, called with a valid token for someone else's
    id — with the victim's own conversation and waiting call in the path, and a body the
    operation would accept — is a 403 that names nobody's data, and changes nothing."""
    with httpx.Client(base_url=live_api.base_url, headers=live_api.fuzzer.headers) as http:
        conversation = http.get(f"/api/{live_api.victim.id}/conversations")
        assert conversation.status_code == 403
        before = live_api.victim_state()
        operations = [
            (method, path)
            for path, item in DOCUMENT["paths"].items()
            if "{user_id}" in path
            for method in item
        ]
        assert len(operations) >= 8, operations
        assert ("post", APPROVALS) in operations
        for method, path in operations:
            url = path.format(user_id=live_api.victim.id, **live_api.waiting)
            response = http.request(method, url, json=_accepted_body(method, path))
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "forbidden"
            assert "private plan" not in response.text
    assert live_api.victim_state() == before


def _accepted_body(method: str, path: str) -> dict[str, Any] | None:
    """A body the operation would take from its owner (so only the path's user is wrong)."""
    if path == APPROVALS:
        return {"approve": True}
    return {"post": {"message": "list my tasks"}, "patch": {"title": "mine now"}}.get(method)
