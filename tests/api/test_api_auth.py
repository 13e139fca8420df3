"""Sign-up, log-in and the bearer-token rules every /api/{user_id}/… route follows."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from taskpilot.core.config import Settings
from taskpilot.core.security import mint_mcp_token
from taskpilot.runtime import Runtime
from tests.support.harness import api_client, bearer, make_settings, sign_up


async def test_sign_up_then_log_in(client: httpx.AsyncClient) -> None:
    created = await sign_up(client, "Ada@Example.com")
    assert created["token_type"] == "bearer"
    assert created["user"]["email"] == "ada@example.com"
    assert created["user"]["display_name"] == "ada"
    assert created["expires_in"] > 0

    login = await client.post(
        "/api/auth/login", json={"email": "ADA@example.com", "password": "correct horse battery"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["id"] == created["id"]
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json() == created["user"]


async def test_passwords_are_stored_hashed(client: httpx.AsyncClient, runtime: Runtime) -> None:
    created = await sign_up(client)
    async with runtime.db.session() as session:
        from taskpilot.data.models import User

        user = await session.get(User, created["id"])
    assert user is not None
    assert "correct horse battery" not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"email": "not-an-email", "password": "long enough pw"}, 422, "valid email"),
        ({"email": "ada@example.com", "password": "short"}, 422, "at least 8"),
        ({"email": "ada@example.com"}, 422, "'password' is required"),
        (
            {"email": "ada@example.com", "password": "long enough pw", "admin": True},
            422,
            "'admin' is not a known field",
        ),
        ({"email": 5, "password": "long enough pw"}, 422, "email"),
    ],
)
async def test_sign_up_rejects_bad_input(
    client: httpx.AsyncClient, body: dict[str, object], status: int, fragment: str
) -> None:
    response = await client.post("/api/auth/signup", json=body)
    assert response.status_code == status
    assert fragment in response.json()["detail"]


async def test_duplicate_sign_up_and_wrong_password(client: httpx.AsyncClient) -> None:
    await sign_up(client)
    again = await client.post(
        "/api/auth/signup", json={"email": "ada@example.com", "password": "another password"}
    )
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    wrong = await client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == 401
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Wrong email or password."


async def test_routes_need_a_valid_token_for_the_same_user(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ada = await sign_up(client, "ada@example.com")
    bob = await sign_up(client, "bob@example.com")
    routes = [
        ("GET", f"/api/{ada['id']}/conversations", None),
        ("GET", f"/api/{ada['id']}/tasks", None),
        ("POST", f"/api/{ada['id']}/chat", {"message": "hi"}),
    ]
    expired = settings.model_copy(update={"access_token_minutes": 1})
    now = int(time.time())
    stale = jwt.encode(
        {
            "iss": "taskpilot",
            "aud": "taskpilot-api",
            "sub": ada["id"],
            "iat": now - 600,
            "exp": now - 300,
        },
        expired.signing_secret,
        algorithm="HS256",
    )
    forged = bearer(make_settings("sqlite://", jwt_secret="x" * 40), ada["id"])
    for method, path, body in routes:
        missing = await client.request(method, path, json=body)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        garbage = await client.request(
            method, path, json=body, headers={"Authorization": "Bearer abc.def.ghi"}
        )
        assert garbage.status_code == 401
        old = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {stale}"}
        )
        assert old.status_code == 401 and "expired" in old.json()["detail"]
        assert (await client.request(method, path, json=body, headers=forged)).status_code == 401
        # The MCP token of a turn is not an API token.
        mcp = {"Authorization": f"Bearer {mint_mcp_token(settings, ada['id'])}"}
        assert (await client.request(method, path, json=body, headers=mcp)).status_code == 401
        other = await client.request(method, path, json=body, headers=bob["headers"])
        assert other.status_code == 403


async def test_token_for_a_deleted_account_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = bearer(settings, "no-such-user")
    response = await client.get("/api/no-such-user/tasks", headers=headers)
    assert response.status_code == 401


async def test_better_auth_shared_secret_tokens(sqlite_url: str, running: object) -> None:
    secret = "better-auth-shared-secret-0123456789abcdef"
    settings = make_settings(
        sqlite_url, better_auth_secret=secret, better_auth_issuer="https://app.example"
    )
    runtime = await running(Runtime(settings))  # type: ignore[operator]
    now = int(time.time())
    claims = {
        "sub": "ba_user_1",
        "email": "Grace@Example.com",
        "iss": "https://app.example",
        "iat": now,
        "exp": now + 600,
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    async with api_client(runtime) as http:
        me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json() == {
            "id": "ba_user_1",
            "timezone": None,
            "email": "grace@example.com",
            "display_name": "grace",
        }
        tasks = await http.get("/api/ba_user_1/tasks", headers={"Authorization": f"Bearer {token}"})
        assert tasks.status_code == 200 and tasks.json()["count"] == 0
        wrong_iss = jwt.encode({**claims, "iss": "https://evil.example"}, secret, algorithm="HS256")
        bad = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {wrong_iss}"})
        assert bad.status_code == 401


# Better Auth's JWKS tokens (EdDSA, ES256, RS256, key rotation, caching): tests/core/test_jwks.py.


async def test_a_person_sets_their_time_zone(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    me = await client.get("/api/auth/me", headers=ada["headers"])
    assert me.json()["timezone"] is None
    body = {"timezone": "America/Los_Angeles"}
    changed = await client.patch("/api/auth/me", json=body, headers=ada["headers"])
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "America/Los_Angeles"
    me = await client.get("/api/auth/me", headers=ada["headers"])
    assert me.json()["timezone"] == "America/Los_Angeles"
    for bad in ("Mars/Olympus_Mons", "", "../../etc/passwd"):
        refused = await client.patch("/api/auth/me", json={"timezone": bad}, headers=ada["headers"])
        assert refused.status_code == 422, (bad, refused.text)
        assert "time zone" in refused.json()["detail"]
    assert (await client.patch("/api/auth/me", json=body)).status_code == 401
    me = await client.get("/api/auth/me", headers=ada["headers"])
    assert me.json()["timezone"] == "America/Los_Angeles"
