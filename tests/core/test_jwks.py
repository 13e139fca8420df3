"""Better Auth's tokens checked against its JWKS: a real JWKS endpoint on loopback that can rotate
keys, hold its answers and count fetches (`tests.support.jwks`), and the real API app in front
of it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from pydantic import ValidationError

from taskpilot.core import security
from taskpilot.core.errors import TaskPilotError
from taskpilot.runtime import Runtime
from taskpilot.web.session import identify
from tests.support.harness import api_client, make_settings, sign_up
from tests.support.jwks import AUDIENCE, BETTER_AUTH, HOLD_LIMIT_SECONDS, JwksServer, Signer


def hs256_with(secret: str, claims: dict[str, Any]) -> str:
    """An HS256 token made by hand (PyJWT refuses a key that looks like a JWK, rightly)."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    payload = part(json.dumps({**claims, "exp": int(time.time()) + 60}).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(mac)}"


async def start(running: Any, database_url: str, jwks: JwksServer) -> Runtime:
    settings = make_settings(
        database_url,
        better_auth_jwks_url=jwks.url,
        better_auth_audience=AUDIENCE,
        better_auth_issuer=BETTER_AUTH,
    )
    return await running(Runtime(settings))  # type: ignore[no-any-return]


async def me(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await http.get("/api/auth/me", headers=headers)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_tokens_signed_with_a_key_from_the_jwks_are_accepted(
    sqlite_url: str, running: Any, jwks: JwksServer, algorithm: str
) -> None:
    signer = Signer("key-1", algorithm)
    jwks.publish(signer)
    runtime = await start(running, sqlite_url, jwks)
    past = int(time.time()) - 3600
    impostor = Signer("key-1", algorithm)  # claims the published key id, signs with another key
    refused = {
        "another key": impostor.token(),
        "another application": signer.token(aud="another-app"),
        "no audience": signer.token(aud=None),
        "another issuer": signer.token(iss="https://evil.example"),
        "no issuer": signer.token(iss=None),
        "expired": signer.token(iat=past - 600, exp=past),
        "no key id": jwt.encode(
            {"sub": "x", "aud": AUDIENCE, "iss": BETTER_AUTH, "exp": int(time.time()) + 60},
            signer.private,
            algorithm=algorithm,
        ),
        # A shared-secret algorithm naming a JWKS key, keyed with the public key (the classic
        # algorithm confusion): never checked with a JWKS key.
        "HS256": hs256_with(json.dumps(signer.jwk()), {"sub": "x", "aud": AUDIENCE}),
    }
    async with api_client(runtime) as http:
        accepted = await me(http, signer.bearer(sub="ba_lin"))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["id"] == "ba_lin"
        for reason, token in refused.items():
            response = await me(http, {"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, reason
        assert "expired" in (await me(http, signer.bearer(exp=past))).json()["detail"]
    assert jwks.fetches == 1


async def test_a_key_added_to_the_jwks_is_accepted_at_once(
    sqlite_url: str, running: Any, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Signer("key-1", "EdDSA"), Signer("key-2", "ES256")
    jwks.publish(old)
    runtime = await start(running, sqlite_url, jwks)
    async with api_client(runtime) as http:
        assert (await me(http, old.bearer())).status_code == 200
        assert jwks.fetches == 1
        # Better Auth rotates: key-2 joins the JWKS and signs the tokens issued from now on,
        # some time after TaskPilot's last fetch (longer ago than the negative cache).
        jwks.publish(old, new)
        monkeypatch.setattr(security, "JWKS_MISS_SECONDS", 0)
        assert (await me(http, new.bearer())).status_code == 200
        assert jwks.fetches == 2
        # Both keys are cached now: no more fetches.
        assert (await me(http, old.bearer())).status_code == 200
        assert (await me(http, new.bearer())).status_code == 200
    assert jwks.fetches == 2


async def test_a_key_removed_from_the_jwks_is_refused_once_the_keys_expire(
    sqlite_url: str, running: Any, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, withdrawn = Signer("key-1", "RS256"), Signer("key-2", "EdDSA")
    jwks.publish(kept, withdrawn)
    runtime = await start(running, sqlite_url, jwks)
    async with api_client(runtime) as http:
        assert (await me(http, withdrawn.bearer())).status_code == 200
        jwks.publish(kept)  # key-2 leaked, say: Better Auth withdraws it
        # Until the cached keys expire (JWKS_TTL_SECONDS, 60 in production) key-2 still works.
        assert (await me(http, withdrawn.bearer())).status_code == 200
        assert jwks.fetches == 1
        monkeypatch.setattr(security, "JWKS_TTL_SECONDS", 1.0)
        await asyncio.sleep(1.1)  # the keys fetched above are now older than the TTL
        refused = await me(http, withdrawn.bearer())
        assert refused.status_code == 401, refused.text
        assert jwks.fetches == 2
        assert (await me(http, kept.bearer())).status_code == 200
    assert jwks.fetches == 2


async def test_a_slow_jwks_does_not_stall_other_requests(
    sqlite_url: str, running: Any, jwks: JwksServer
) -> None:
    signer = Signer("key-1", "ES256")
    jwks.publish(signer)
    jwks.hold()
    runtime = await start(running, sqlite_url, jwks)
    async with api_client(runtime) as http:
        waiting = asyncio.create_task(me(http, signer.bearer()))
        # The JWKS has the fetch and holds its answer.
        assert await asyncio.to_thread(jwks.fetch_arrived.wait, HOLD_LIMIT_SECONDS)
        # Meanwhile the worker serves everyone else: a health check, a sign-up (Argon2 in a
        # thread), a TaskPilot token's request.
        assert (await http.get("/api/health/live")).status_code == 200
        ada = await sign_up(http)
        tasks = await http.get(f"/api/{ada['id']}/tasks", headers=ada["headers"])
        assert tasks.status_code == 200
        # ... all of it while the fetch was still in flight.
        assert jwks.answered == 0 and not waiting.done()
        jwks.release()
        assert (await waiting).status_code == 200
    assert jwks.fetches == 1


async def test_concurrent_requests_with_an_unknown_key_id_cause_one_fetch(
    database_url: str, running: Any, jwks: JwksServer
) -> None:
    signer = Signer("key-1", "EdDSA")
    jwks.publish(signer)
    jwks.hold()
    runtime = await start(running, database_url, jwks)
    headers = signer.bearer(sub="ba_grace")
    async with api_client(runtime) as http:
        requests = [asyncio.create_task(me(http, headers)) for _ in range(40)]
        assert await asyncio.to_thread(jwks.fetch_arrived.wait, HOLD_LIMIT_SECONDS)
        # Let every other request reach the key lookup while the one fetch is held.
        await asyncio.sleep(0.3)
        jwks.release()
        responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [200] * 40
    assert {r.json()["id"] for r in responses} == {"ba_grace"}  # one account, created once
    assert jwks.fetches == 1


async def test_a_flood_of_unknown_key_ids_costs_one_fetch_per_period(
    sqlite_url: str, running: Any, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer("key-1", "EdDSA")
    jwks.publish(signer)
    runtime = await start(running, sqlite_url, jwks)

    def made_up() -> dict[str, str]:
        token = jwt.encode(
            {"sub": "x", "aud": AUDIENCE, "iss": BETTER_AUTH, "exp": int(time.time()) + 60},
            signer.private,
            algorithm="EdDSA",
            headers={"kid": uuid.uuid4().hex},
        )
        return {"Authorization": f"Bearer {token}"}

    async with api_client(runtime) as http:
        # Within one negative-cache period (JWKS_MISS_SECONDS, 5 by default): one fetch.
        for _ in range(2):
            responses = await asyncio.gather(*(me(http, made_up()) for _ in range(50)))
            assert {r.status_code for r in responses} == {401}
        assert jwks.fetches == 1
        # A key Better Auth really added is refused too until the period ends (the price of
        # the negative cache), and accepted at the next fetch.
        new = Signer("key-2", "ES256")
        jwks.publish(signer, new)
        assert (await me(http, new.bearer())).status_code == 401
        assert jwks.fetches == 1

        # A flood that lasts several periods: at most one fetch per period.
        period = 0.2
        monkeypatch.setattr(security, "JWKS_MISS_SECONDS", period)
        before, started = jwks.fetches, time.monotonic()
        for _ in range(10):
            responses = await asyncio.gather(*(me(http, made_up()) for _ in range(20)))
            assert {r.status_code for r in responses} == {401}
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        assert 1 <= jwks.fetches - before <= elapsed / period + 1
        assert (await me(http, new.bearer())).status_code == 200


async def test_an_unreachable_jwks_answers_503_and_is_not_hammered(
    sqlite_url: str, running: Any, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer("key-1", "RS256")
    jwks.publish(signer)
    jwks.status = 500
    runtime = await start(running, sqlite_url, jwks)
    async with api_client(runtime) as http:
        for _ in range(3):
            down = await me(http, signer.bearer())
            assert down.status_code == 503
            assert down.json()["code"] == "unavailable"
            assert "try again" in down.json()["detail"] and "Retry-After" in down.headers
        assert jwks.fetches == 1  # the failed fetch is not repeated within the period
        # Back up, and the period over: accepted.
        jwks.status = 200
        monkeypatch.setattr(security, "JWKS_MISS_SECONDS", 0)
        assert (await me(http, signer.bearer())).status_code == 200
        # A JWKS that does not answer in time counts as unreachable.
        monkeypatch.setattr(security, "JWKS_TIMEOUT_SECONDS", 0.2)
        jwks.hold()
        late = Signer("key-2", "ES256")
        assert (await me(http, late.bearer())).status_code == 503
        jwks.release()
    assert jwks.fetches == 3


async def test_the_page_verifies_jwks_tokens_without_blocking(
    sqlite_url: str, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer("key-1", "EdDSA")
    jwks.publish(signer)
    jwks.hold()
    settings = make_settings(
        sqlite_url, better_auth_jwks_url=jwks.url, better_auth_audience=AUDIENCE
    )
    checking = asyncio.create_task(identify(settings, signer.token(sub="ba_page")))
    assert await asyncio.to_thread(jwks.fetch_arrived.wait, HOLD_LIMIT_SECONDS)
    assert not checking.done()  # the loop ran this test while the page's fetch was held
    jwks.release()
    identity = await checking
    assert identity is not None and identity.user_id == "ba_page"
    assert identity.source == "better-auth"
    assert await identify(settings, Signer("key-1", "EdDSA").token()) is None  # forged
    jwks.status = 500
    monkeypatch.setattr(security, "JWKS_MISS_SECONDS", 0)
    with pytest.raises(TaskPilotError):  # not "signed out": the keys could not be checked
        await identify(settings, Signer("key-9", "EdDSA").token())


def test_a_jwks_url_needs_an_audience() -> None:
    with pytest.raises(ValidationError, match="BETTER_AUTH_AUDIENCE must be set with"):
        make_settings("sqlite://", better_auth_jwks_url="https://app.example/api/auth/jwks")
    with pytest.raises(ValidationError, match="must be an http"):
        make_settings(
            "sqlite://", better_auth_jwks_url="app.example/jwks", better_auth_audience="a"
        )
