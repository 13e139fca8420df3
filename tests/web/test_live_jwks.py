"""A tab's watcher when the person signed in with Better Auth, whose JWKS is a real endpoint on
loopback (`tests.support.jwks`): an outage of the JWKS does not end the watcher, and signing out
during it still does."""

from __future__ import annotations

import asyncio

import pytest

from taskpilot.core import security
from taskpilot.core.config import Settings
from taskpilot.web.states import live
from tests.support.harness import make_settings
from tests.support.jwks import AUDIENCE, BETTER_AUTH, JwksServer, Signer
from tests.support.mcp_client import in_process, payload
from tests.support.web_states import Page, call
from tests.web.test_live import Watchers, until


@pytest.fixture
def settings(sqlite_url: str, jwks: JwksServer) -> Settings:
    return make_settings(
        sqlite_url,
        better_auth_jwks_url=jwks.url,
        better_auth_audience=AUDIENCE,
        better_auth_issuer=BETTER_AUTH,
    )


async def test_a_watcher_goes_on_while_the_jwks_is_down_and_signing_out_still_ends_it(
    tab: Page, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "LOOK_SECONDS", 0.05)
    monkeypatch.setattr(live, "STATE_CHECK_SECONDS", 0.05)
    signer = Signer("key-1", "EdDSA")
    jwks.publish(signer)
    tab.auth.token = signer.token(sub="ba_ada")
    await call(tab.chat, "load_page")  # Better Auth's person is created on first sight
    watchers = Watchers()
    await watchers.start(tab)
    watcher = watchers.running[0][1]

    # The JWKS fails, and every check of the sign-in must fetch it again.
    jwks.status = 500
    monkeypatch.setattr(security, "JWKS_TTL_SECONDS", 0)
    monkeypatch.setattr(security, "JWKS_MISS_SECONDS", 0)
    failed = jwks.fetches
    await until(lambda: jwks.fetches >= failed + 3, "three checks met the JWKS down")
    assert not watcher.done()
    async with in_process(tab.runtime, "ba_ada") as mcp:  # and the news still comes in
        added = payload(await mcp.call_tool("add_task", {"title": "Water the ferns"}))
        assert added["status"] == "created"
    await until(lambda: [t.title for t in tab.tasks.tasks] == ["Water the ferns"], "the panel")

    # Signing out, the JWKS still down: the token is forgotten, and the watcher ends.
    await call(tab.auth, "log_out")
    assert tab.auth.token == ""
    await asyncio.wait_for(watcher, 5)
