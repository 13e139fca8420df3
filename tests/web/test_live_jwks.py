"""A tab's watcher when the person signed in with Better Auth, whose JWKS is a real endpoint on
loopback (`tests.support.jwks`): an outage of the JWKS does not end the watcher, but it never
outlives its sign-in — signing out here or everywhere, the token expiring, or another person
signing in on the tab ends it while the JWKS is down."""

from __future__ import annotations

import asyncio
import time

import pytest

from taskpilot.core import security
from taskpilot.core.config import Settings
from taskpilot.services.sign_out import sign_out_everywhere
from taskpilot.web.states import live
from tests.support.harness import make_settings
from tests.support.jwks import AUDIENCE, BETTER_AUTH, JwksServer, Signer
from tests.support.live_tabs import Watchers, until
from tests.support.mcp_client import in_process, payload
from tests.support.web_states import Page, call

SIGNER = Signer("key-1", "EdDSA")


@pytest.fixture
def settings(sqlite_url: str, jwks: JwksServer) -> Settings:
    return make_settings(
        sqlite_url,
        better_auth_jwks_url=jwks.url,
        better_auth_audience=AUDIENCE,
        better_auth_issuer=BETTER_AUTH,
    )


@pytest.fixture(autouse=True)
def look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "LOOK_SECONDS", 0.05)
    monkeypatch.setattr(live, "STATE_CHECK_SECONDS", 0.05)


async def watching(tab: Page, jwks: JwksServer, watchers: Watchers, **claims: int) -> Watchers:
    """Ada, signed in with Better Auth on `tab` (a token with `claims`), watching."""
    jwks.publish(SIGNER)
    tab.auth.token = SIGNER.token(sub="ba_ada", **claims)
    await call(tab.chat, "load_page")  # Better Auth's person is created on first sight
    await watchers.start(tab)
    return watchers


async def jwks_down(jwks: JwksServer, monkeypatch: pytest.MonkeyPatch, checks: int) -> None:
    """The JWKS fails, every check of a sign-in must fetch it again; until `checks` did."""
    jwks.status = 500
    monkeypatch.setattr(security, "JWKS_TTL_SECONDS", 0)
    monkeypatch.setattr(security, "JWKS_MISS_SECONDS", 0)
    failed = jwks.fetches
    await until(lambda: jwks.fetches >= failed + checks, f"{checks} checks met the JWKS down")


async def test_a_watcher_goes_on_while_the_jwks_is_down_and_signing_out_still_ends_it(
    tab: Page, jwks: JwksServer, watchers: Watchers, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = (await watching(tab, jwks, watchers)).running[0][1]
    await jwks_down(jwks, monkeypatch, checks=3)
    assert not watcher.done()
    async with in_process(tab.runtime, "ba_ada") as mcp:  # and the news still comes in
        added = payload(await mcp.call_tool("add_task", {"title": "Water the ferns"}))
        assert added["status"] == "created"
    await until(lambda: [t.title for t in tab.tasks.tasks] == ["Water the ferns"], "the panel")

    # Signing out, the JWKS still down: the token is forgotten, and the watcher ends.
    await call(tab.auth, "log_out")
    assert tab.auth.token == ""
    await asyncio.wait_for(watcher, 5)


@pytest.mark.parametrize("ending", ["signed out everywhere", "someone else"])
async def test_a_watcher_never_outlives_its_sign_in_while_the_jwks_is_down(
    tab: Page,
    jwks: JwksServer,
    watchers: Watchers,
    monkeypatch: pytest.MonkeyPatch,
    ending: str,
) -> None:
    watcher = (await watching(tab, jwks, watchers)).running[0][1]  # a token good for 10 min
    await jwks_down(jwks, monkeypatch, checks=2)
    assert not watcher.done()
    if ending == "signed out everywhere":  # on another device: only the database knows
        async with tab.runtime.db.session() as session:
            await sign_out_everywhere(session, security.Identity(user_id="ba_ada"))
    else:  # Bob signed in in another tab of the browser (the token is its localStorage's)
        tab.auth.token = SIGNER.token(sub="ba_bob")
    await asyncio.wait_for(watcher, 5)


async def test_a_watcher_ends_when_its_token_expires_while_the_jwks_is_down(
    tab: Page, jwks: JwksServer, watchers: Watchers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token just expired is still taken within the clock-skew leeway while the JWKS
    answers; with the JWKS away, nothing vouches for it any more."""
    watcher = (await watching(tab, jwks, watchers, exp=int(time.time()) - 1)).running[0][1]
    fetched = jwks.fetches
    jwks.status = 500
    monkeypatch.setattr(security, "JWKS_TTL_SECONDS", 0)
    monkeypatch.setattr(security, "JWKS_MISS_SECONDS", 0)
    await asyncio.wait_for(watcher, 5)
    assert jwks.fetches > fetched  # it ended at a check that met the JWKS down
