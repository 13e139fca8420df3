"""Reading a conversation id from a URL path, and verifying the browser's token."""

from __future__ import annotations

import time

import jwt
import pytest

from taskpilot.core.config import Settings
from taskpilot.core.security import mint_access_token
from taskpilot.web.routes import (
    chatkit_path,
    conversation_id_from_path,
    conversation_path,
    thread_id_from_path,
)
from taskpilot.web.session import identify
from tests.support.harness import TEST_SECRET, make_settings


@pytest.mark.parametrize(
    ("path", "conversation_id"),
    [
        ("/c/abc123", "abc123"),
        ("/c/abc123/", "abc123"),
        (conversation_path("f00d"), "f00d"),
        ("/", ""),
        ("/login", ""),
        ("/c/", ""),
        ("/c/a/b", ""),
        ("/c/<script>", ""),
        ("", ""),
    ],
)
def test_conversation_id_from_path(path: str, conversation_id: str) -> None:
    assert conversation_id_from_path(path) == conversation_id


@pytest.mark.parametrize(
    ("thread_id", "path"),
    [("f00d_1-2", "/chatkit/f00d_1-2"), ("", "/chatkit"), ("'); alert(1); ('", "/chatkit")],
)
def test_chatkit_paths_name_only_real_thread_ids(thread_id: str, path: str) -> None:
    assert chatkit_path(thread_id) == path
    assert thread_id_from_path(path) == (thread_id if path != "/chatkit" else "")
    assert thread_id_from_path("/c/f00d") == "" and thread_id_from_path("/chatkit/a/b") == ""


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


async def test_identify_accepts_only_a_valid_login_token(settings: Settings) -> None:
    token, _ = mint_access_token(settings, "user-1", "ada@example.com")
    identity = await identify(settings, token)
    assert identity is not None and identity.user_id == "user-1"
    assert await identify(settings, "") is None
    assert await identify(settings, token[:-4] + "AAAA") is None
    expired = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "exp": int(time.time()) - 60},
        TEST_SECRET,
        algorithm="HS256",
    )
    assert await identify(settings, expired) is None


async def test_identify_refuses_a_token_the_jwks_setup_does_not_accept(sqlite_url: str) -> None:
    # With a JWKS URL configured, an HS256 token (no key id) is refused before any fetch.
    settings = make_settings(
        sqlite_url, better_auth_jwks_url="http://127.0.0.1:9/jwks", better_auth_audience="tp"
    )
    foreign = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256")
    assert await identify(settings, foreign) is None
