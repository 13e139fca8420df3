"""Sign-in that tells an attacker nothing and that an attacker cannot turn against the owner:
the same Argon2 work whether or not an account exists, sign-in limits per email *from one
address* plus a ceiling per address, and IPv6 clients counted by their /64.

All through the real API app; the limits with the in-process counters and with Redis.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import argon2
import httpx
import jwt
import pytest
from agents.testing import ScriptedModel

from taskpilot.core.limits import ADDRESS_SIGN_IN_FACTOR
from taskpilot.core.limits.addresses import address_group
from taskpilot.runtime import Runtime
from tests.support.harness import REDIS_URL, api_client, make_settings, needs_redis, sign_up

BETTER_AUTH_SECRET = "better-auth-shared-secret-0123456789abcdef"
ATTEMPTS = 3
WRONG = "wrong password"
RIGHT = "correct horse battery"

both_counters = pytest.mark.parametrize(
    "shared", [False, pytest.param(True, marks=needs_redis)], ids=["in-process", "redis"]
)


# --- the same work for every sign-in ------------------------------------------------------------


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hashes argon2 verified a password against, in order (the real check still runs)."""
    checked: list[str] = []
    real = argon2.PasswordHasher.verify

    def counted(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        checked.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted)
    yield checked


def _parameters(argon2_hash: str) -> str:
    """'$argon2id$v=19$m=…,t=…,p=…': what decides how much work checking against it takes."""
    return "$".join(argon2_hash.split("$")[:4])


async def test_a_sign_in_costs_one_argon2_check_whether_or_not_the_account_exists(
    database_url: str, running: Any, argon2_checks: list[str]
) -> None:
    settings = make_settings(database_url, better_auth_secret=BETTER_AUTH_SECRET)
    runtime = await running(Runtime(settings, model=ScriptedModel([])))
    async with api_client(runtime) as http:
        await sign_up(http, "ada@example.com")
        # Grace signs in through Better Auth: her row has no password hash.
        now = int(time.time())
        token = jwt.encode(
            {"sub": "ba_grace", "email": "grace@example.com", "iat": now, "exp": now + 600},
            BETTER_AUTH_SECRET,
            algorithm="HS256",
        )
        me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        argon2_checks.clear()

        async def log_in(email: str, password: str) -> tuple[int, list[str]]:
            before = len(argon2_checks)
            response = await http.post(
                "/api/auth/login", json={"email": email, "password": password}
            )
            return response.status_code, argon2_checks[before:]

        status, right = await log_in("ada@example.com", RIGHT)
        assert status == 200
        status, wrong_password = await log_in("ada@example.com", WRONG)
        assert status == 401
        status, unknown_email = await log_in("nobody@example.com", WRONG)
        assert status == 401
        status, other_unknown = await log_in("someone-else@example.com", RIGHT)
        assert status == 401
        status, no_password = await log_in("grace@example.com", WRONG)
        assert status == 401

    # One check each, against a hash made with the same parameters as a real account's.
    for checked in (right, wrong_password, unknown_email, other_unknown, no_password):
        assert len(checked) == 1
        assert _parameters(checked[0]) == _parameters(right[0])
    # The stand-in for a missing hash is one dummy, made once, never an account's.
    assert unknown_email == other_unknown == no_password
    assert unknown_email != right


# --- lockouts an attacker cannot turn against the owner ------------------------------------------


def _fresh_ipv4() -> str:
    """An address no other run has used (Redis windows outlive a test)."""
    return str(ipaddress.IPv4Address(0x0A000000 + secrets.randbits(24)))


def _fresh_ipv6_network() -> ipaddress.IPv6Network:
    """A /64 no other run has used."""
    return ipaddress.IPv6Network((0x20010DB8 << 96 | secrets.randbits(32) << 64, 64))


@pytest.fixture
def limited(sqlite_url: str, running: Any) -> Callable[[bool], Any]:
    """Start a runtime with SIGN_IN_ATTEMPTS=3 behind one trusted proxy, counting in the
    process or in Redis."""

    async def start(shared: bool) -> Runtime:
        settings = make_settings(
            sqlite_url,
            sign_in_attempts=ATTEMPTS,
            trusted_proxies=1,
            reflex_redis_url=REDIS_URL if shared else None,
        )
        return await running(Runtime(settings, model=ScriptedModel([])))  # type: ignore[no-any-return]

    return start


def _log_in(http: httpx.AsyncClient, email: str, password: str, address: str) -> Any:
    return http.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


@both_counters
async def test_an_attacker_elsewhere_cannot_lock_the_owner_out(
    limited: Callable[[bool], Any], shared: bool
) -> None:
    runtime = await limited(shared)
    ada = f"ada-{uuid.uuid4().hex[:12]}@example.com"
    home, attacker, other_attacker = _fresh_ipv4(), _fresh_ipv4(), _fresh_ipv4()
    async with api_client(runtime) as http:
        await sign_up(http, ada)
        for _ in range(ATTEMPTS):
            assert (await _log_in(http, ada, WRONG, attacker)).status_code == 401
        refused = await _log_in(http, ada.upper(), RIGHT, attacker)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 200
        assert refused.json() == {
            "detail": "Too many sign-in attempts; try again in 5 minutes.",
            "code": "rate_limited",
        }
        # Ada, at home, is not locked out by any of that.
        assert (await _log_in(http, ada, RIGHT, home)).status_code == 200
        # The limit is on this email from that address: another address starts afresh (and is
        # itself held to SIGN_IN_ATTEMPTS; Argon2 makes each guess slow).
        assert (await _log_in(http, ada, WRONG, other_attacker)).status_code == 401


@both_counters
async def test_one_address_has_a_ceiling_over_all_emails(
    limited: Callable[[bool], Any], shared: bool
) -> None:
    runtime = await limited(shared)
    office, elsewhere = _fresh_ipv4(), _fresh_ipv4()
    ceiling = ATTEMPTS * ADDRESS_SIGN_IN_FACTOR
    run = uuid.uuid4().hex[:12]
    async with api_client(runtime) as http:
        for index in range(ceiling):
            guess = await _log_in(http, f"guess{index}-{run}@example.com", WRONG, office)
            assert guess.status_code == 401
        over = await _log_in(http, f"fresh-{run}@example.com", WRONG, office)
        assert over.status_code == 429
        # Sign-up counts as an attempt as well.
        body = {"email": f"new-{run}@example.com", "password": RIGHT}
        blocked = await http.post(
            "/api/auth/signup", json=body, headers={"X-Forwarded-For": office}
        )
        assert blocked.status_code == 429
        # Other addresses are untouched.
        assert (
            await _log_in(http, f"fresh-{run}@example.com", WRONG, elsewhere)
        ).status_code == 401


@both_counters
async def test_an_ipv6_client_is_counted_by_its_64_and_ipv4_mapped_as_ipv4(
    limited: Callable[[bool], Any], shared: bool
) -> None:
    runtime = await limited(shared)
    ada = f"ada-{uuid.uuid4().hex[:12]}@example.com"
    network, neighbour = _fresh_ipv6_network(), _fresh_ipv6_network()
    async with api_client(runtime) as http:
        # Walking through the addresses of one /64 does not give fresh attempts.
        for host in range(1, ATTEMPTS + 1):
            assert (await _log_in(http, ada, WRONG, str(network[host]))).status_code == 401
        walked = await _log_in(http, ada, WRONG, str(network[2**63 + 7]))
        assert walked.status_code == 429
        # The next /64 is another client.
        assert (await _log_in(http, ada, WRONG, str(neighbour[1]))).status_code == 401

        # IPv4 written as IPv4-mapped IPv6 is the same IPv4 client.
        bob, address = f"bob-{uuid.uuid4().hex[:12]}@example.com", _fresh_ipv4()
        for written in (address, f"::ffff:{address}", f"[::ffff:{address}]:4711"):
            assert (await _log_in(http, bob, WRONG, written)).status_code == 401
        assert (await _log_in(http, bob, WRONG, address)).status_code == 429


@both_counters
async def test_attempts_at_once_are_admitted_up_to_the_limit_and_no_further(
    limited: Callable[[bool], Any], shared: bool
) -> None:
    runtime = await limited(shared)
    ada, attacker = f"ada-{uuid.uuid4().hex[:12]}@example.com", _fresh_ipv4()
    async with api_client(runtime) as http:
        answers = await asyncio.gather(*(_log_in(http, ada, WRONG, attacker) for _ in range(8)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * ATTEMPTS + [429] * (8 - ATTEMPTS)


def test_addresses_are_grouped_into_clients() -> None:
    assert address_group("203.0.113.9") == "203.0.113.9"
    assert address_group("::ffff:203.0.113.9") == "203.0.113.9"
    assert address_group("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert address_group("2001:DB8:1:2::1") == address_group("2001:db8:1:2:ffff::9")
    assert address_group("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert address_group("fe80::1%eth0") == "fe80::/64"
    # A port some proxies add is not part of the client.
    assert address_group("203.0.113.9:4711") == "203.0.113.9"
    assert address_group("[2001:db8:1:2::1]:4711") == "2001:db8:1:2::/64"
    # Anything else is kept as given, bounded.
    assert address_group("unknown") == "unknown"
    assert address_group("not an address") == "not an address"
    assert address_group("x" * 10_000) == "x" * 64
