"""Hosted ChatKit sessions (`POST /api/chatkit/sessions`), end to end: the real API app and
the real `openai` client, pointed at `tests.support.openai_standin` (a real HTTP server answering
`/v1/chatkit/sessions` as OpenAI does). The agent's model stays offline: only the session
request goes to "OpenAI"."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from openai.types.beta.chatkit import ChatSession

from taskpilot.runtime import Runtime
from tests.support.harness import OPENAI_KEY, api_client, free_port, make_settings, sign_up
from tests.support.openai_standin import SESSION_LIFETIME_SECONDS, OpenAIStandIn

SESSIONS = "/api/chatkit/sessions"
WORKFLOW = "wf_test_123"
BROWSER = {"Origin": "http://localhost:3000"}  # one of the default ALLOWED_ORIGINS
NOT_CONFIGURED = (
    "Hosted ChatKit is not configured on this server "
    "(it needs CHATKIT_WORKFLOW_ID and OPENAI_API_KEY)."
)

Serve = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def serve(running: Any, standin: OpenAIStandIn) -> Serve:
    """Start the API with hosted ChatKit configured against the stand-in (`overrides` change
    the settings); an HTTP client on it."""

    async def start(database_url: str, **overrides: Any) -> httpx.AsyncClient:
        values: dict[str, Any] = {
            "chatkit_workflow_id": WORKFLOW,
            "openai_api_key": OPENAI_KEY,
            "openai_base_url": standin.base_url,
            "model_provider": "offline",  # the agent's model is not what these tests are about
            **overrides,
        }
        return api_client(await running(Runtime(make_settings(database_url, **values))))

    return start


def assert_no_secret(response: httpx.Response) -> None:
    assert OPENAI_KEY not in response.text
    assert OPENAI_KEY[-8:] not in response.text


# --- a session -------------------------------------------------------------------------------


async def test_a_signed_in_user_gets_a_client_secret_for_the_workflow(
    database_url: str, serve: Serve, standin: OpenAIStandIn, secret_logs: Any
) -> None:
    async with await serve(database_url) as http:
        ada = await sign_up(http, "ada@example.com")
        bob = await sign_up(http, "bob@example.com")
        response = await http.post(SESSIONS, headers={**ada["headers"], **BROWSER})
        assert response.status_code == 200, response.text
        for_bob = await http.post(SESSIONS, headers=bob["headers"])
        assert for_bob.status_code == 200, for_bob.text

    # The browser gets the secret and its expiry, and nothing else: no key, no workflow id.
    issued, issued_bob = standin.sessions
    assert response.json() == {
        "client_secret": issued["client_secret"],
        "expires_at": issued["expires_at"],
    }
    assert issued["client_secret"].startswith("ek_")
    assert abs(issued["expires_at"] - (time.time() + SESSION_LIFETIME_SECONDS)) < 30
    assert for_bob.json()["client_secret"] == issued_bob["client_secret"]
    assert issued_bob["client_secret"] != issued["client_secret"]
    for answer in (response, for_bob):
        assert_no_secret(answer)
        assert WORKFLOW not in answer.text

    # OpenAI was asked once per session, with the key, the beta header, and the user's id.
    sent, sent_bob = standin.session_requests
    assert sent.method == "POST" and sent.path == "/v1/chatkit/sessions"
    assert sent.authorization == f"Bearer {OPENAI_KEY}"
    assert sent.headers["openai-beta"] == "chatkit_beta=v1"
    assert sent.body == {"user": ada["id"], "workflow": {"id": WORKFLOW}}
    assert sent_bob.body == {"user": bob["id"], "workflow": {"id": WORKFLOW}}
    assert len(standin.requests) == 2 and standin.model_requests == []


async def test_the_standins_session_is_what_the_openai_sdk_parses(standin: OpenAIStandIn) -> None:
    """The stand-in answers the way OpenAI's documented `ChatSession` reads (strictly)."""
    async with AsyncOpenAI(api_key=OPENAI_KEY, base_url=standin.base_url) as client:
        session = await client.beta.chatkit.sessions.create(user="u_1", workflow={"id": WORKFLOW})
    [answered] = standin.sessions
    strict = ChatSession.model_validate(answered, strict=True)
    assert session == strict
    assert (session.object, session.status, session.user) == ("chatkit.session", "active", "u_1")
    assert session.workflow.id == WORKFLOW
    assert session.rate_limits.max_requests_per_1_minute == session.max_requests_per_1_minute


# --- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize("unset", ["chatkit_workflow_id", "openai_api_key"])
async def test_without_a_workflow_or_a_key_it_is_a_503_that_says_what_is_missing(
    unset: str, database_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    async with await serve(database_url, **{unset: None}) as http:
        me = await sign_up(http)
        response = await http.post(SESSIONS, headers={**me["headers"], **BROWSER})
    assert response.status_code == 503
    assert response.json()["detail"] == NOT_CONFIGURED
    assert_no_secret(response)
    assert standin.requests == []


@pytest.mark.parametrize("upstream", [500, 401])
async def test_an_upstream_refusal_is_a_502_without_the_upstreams_words(
    upstream: int, sqlite_url: str, serve: Serve, standin: OpenAIStandIn, secret_logs: Any
) -> None:
    if upstream == 500:
        # Both attempts (the client retries a 5xx once) fail, quoting the key as an upstream
        # error page might.
        standin.fail_sessions(500, f"stand-in exploded while using {OPENAI_KEY}", times=2)
    else:
        # OpenAI's real 401 for a wrong key, which quotes the key's ends.
        standin.api_key = "sk-proj-SomeOtherKeyEntirely-0000000000000000"
    async with await serve(sqlite_url) as http:
        me = await sign_up(http)
        response = await http.post(SESSIONS, headers={**me["headers"], **BROWSER})
    assert response.status_code == 502
    assert response.json()["detail"] == (
        f"OpenAI did not start a ChatKit session (HTTP {upstream})."
    )
    assert_no_secret(response)
    assert "stand-in" not in response.text and "Incorrect API key" not in response.text
    assert OPENAI_KEY[-4:] not in response.text
    assert len(standin.session_requests) == (2 if upstream == 500 else 1)
    assert standin.sessions == []


async def test_a_passing_upstream_failure_does_not_stick(
    sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    standin.fail_sessions(500, times=2)
    async with await serve(sqlite_url) as http:
        me = await sign_up(http)
        failed = await http.post(SESSIONS, headers=me["headers"])
        again = await http.post(SESSIONS, headers=me["headers"])
    assert failed.status_code == 502
    assert again.status_code == 200, again.text
    assert again.json()["client_secret"] == standin.sessions[0]["client_secret"]


async def test_openai_unreachable_is_a_502(
    sqlite_url: str, serve: Serve, standin: OpenAIStandIn, secret_logs: Any
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    async with await serve(sqlite_url, openai_base_url=closed) as http:
        me = await sign_up(http)
        response = await http.post(SESSIONS, headers={**me["headers"], **BROWSER})
    assert response.status_code == 502
    assert response.json()["detail"] == "OpenAI could not be reached to start a ChatKit session."
    assert_no_secret(response)


async def test_a_session_needs_a_token_and_an_allowed_origin(
    sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    async with await serve(sqlite_url) as http:
        me = await sign_up(http)
        anonymous = await http.post(SESSIONS, headers=BROWSER)
        forged = await http.post(
            SESSIONS, headers={"Authorization": "Bearer not-a-token", **BROWSER}
        )
        elsewhere = await http.post(
            SESSIONS, headers={**me["headers"], "Origin": "https://evil.example"}
        )
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == "Sign in first: send 'Authorization: Bearer <token>'."
    assert forged.status_code == 401
    assert elsewhere.status_code == 403
    assert elsewhere.json()["detail"] == (
        "The origin 'https://evil.example' is not allowed to use TaskPilot's ChatKit endpoints."
    )
    for response in (anonymous, forged, elsewhere):
        assert "client_secret" not in response.text
    # None of them got as far as OpenAI.
    assert standin.requests == []


async def test_sessions_are_rate_limited_per_person(
    sqlite_url: str, serve: Serve, standin: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each session spends the operator's OpenAI quota: past the limit a person gets a 429
    with Retry-After, OpenAI is not asked, and another person is not affected."""
    from taskpilot.core import limits

    monkeypatch.setattr(limits, "HOSTED_SESSIONS_PER_WINDOW", 2)
    async with await serve(sqlite_url) as http:
        ada = await sign_up(http, "ada@example.com")
        bob = await sign_up(http, "bob@example.com")
        answers = [(await http.post(SESSIONS, headers=ada["headers"])) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[-1].json()["code"] == "rate_limited"
        assert int(answers[-1].headers["Retry-After"]) > 0
        assert (await http.post(SESSIONS, headers=bob["headers"])).status_code == 200
    assert len(standin.sessions) == 3
