"""Passwords and tokens: who is asking, proven.

TaskPilot signs two kinds of JWT with one secret, told apart by audience:
- access tokens (`taskpilot-api`), returned by sign-up/log-in, for the HTTP API;
- MCP tokens (`taskpilot-mcp`), minted by the agent service for one turn, valid a few
  minutes, that name the user whose tasks the MCP tools may touch.
Tokens from an existing Better Auth deployment are accepted as access tokens too, checked with
its shared secret or with the keys its JWKS serves (fetched asynchronously, cached briefly).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx2
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from taskpilot.core.config import Settings, get_settings
from taskpilot.core.errors import ErrorCode, TaskPilotError

ISSUER = "taskpilot"
API_AUDIENCE = "taskpilot-api"
MCP_AUDIENCE = "taskpilot-mcp"
_ALGORITHM = "HS256"
_LEEWAY_SECONDS = 10
EXPIRED = "The token has expired; sign in again."

# Better Auth's tokens: the algorithms each kind of key may sign with.
_SHARED_SECRET_ALGORITHMS = ("HS256", "HS512")
_JWKS_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
# How long keys fetched from Better Auth's JWKS are used: a key removed from the JWKS is refused
# at most this long after.
JWKS_TTL_SECONDS = 60.0
# After a fetch, a key id the JWKS lacked is refused for this long without fetching again, so a
# flood of made-up key ids costs the JWKS at most one request per period.
JWKS_MISS_SECONDS = 5.0
# A JWKS slower than this is treated as unreachable (its tokens are refused with a 503).
JWKS_TIMEOUT_SECONDS = 3.0

logger = logging.getLogger("taskpilot.security")


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for something else."""


@dataclass(frozen=True)
class Identity:
    """A verified caller: the user id, and the email when the token carries one."""

    user_id: str
    email: str | None = None
    source: str = "taskpilot"  # or "better-auth"
    expires_at: int | None = None
    # TaskPilot's tokens: which one (sign-out ends it) and when it was issued (sign-out
    # everywhere ends those issued before).
    token_id: str | None = None
    issued_at: float | None = None
    audience: str | None = None


@lru_cache(maxsize=1)
def _password_hash() -> PasswordHash:
    settings = get_settings()
    return PasswordHash(
        (
            Argon2Hasher(
                time_cost=settings.password_hash_time_cost,
                memory_cost=settings.password_hash_memory_kib,
            ),
        )
    )


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _password_hash().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Made once per process with the same hasher, so checking against it costs what checking
    # against a real account's hash costs. Its password is random and never kept.
    return hash_password(secrets.token_urlsafe(32))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password against its hash. With no hash (no such account, or one that signs in
    through Better Auth) it checks against a dummy hash and answers False: the same Argon2
    work either way, so how long a sign-in takes says nothing about which accounts exist."""
    try:
        if not password_hash:
            _password_hash().verify(password, _dummy_hash())
            return False
        return _password_hash().verify(password, password_hash)
    except Exception:
        return False


def _mint(settings: Settings, user_id: str, audience: str, lifetime: int, **extra: Any) -> str:
    now = time.time()
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "sub": user_id,
        # To the millisecond (a NumericDate may be fractional): "sign out everywhere" ends the
        # tokens issued before it, not one issued a moment after in the same second.
        "iat": round(now, 3),
        "exp": int(now) + lifetime,
        "jti": uuid.uuid4().hex,
        **extra,
    }
    return jwt.encode(claims, settings.signing_secret, algorithm=_ALGORITHM)


def mint_access_token(settings: Settings, user_id: str, email: str) -> tuple[str, int]:
    """A login token for the HTTP API, and its lifetime in seconds."""
    lifetime = settings.access_token_minutes * 60
    return _mint(settings, user_id, API_AUDIENCE, lifetime, email=email), lifetime


def mint_mcp_token(settings: Settings, user_id: str) -> str:
    """A short-lived token naming the user for one turn's MCP tool calls."""
    return _mint(settings, user_id, MCP_AUDIENCE, settings.mcp_token_seconds)


def _identity(claims: dict[str, Any], source: str) -> Identity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 64:
        raise InvalidToken("The token does not name a user.")
    email = claims.get("email")
    token_id, issued_at = claims.get("jti"), claims.get("iat")
    return Identity(
        user_id=subject,
        email=email if isinstance(email, str) else None,
        source=source,
        expires_at=claims.get("exp"),
        token_id=token_id if source == "taskpilot" and isinstance(token_id, str) else None,
        issued_at=float(issued_at) if isinstance(issued_at, int | float) else None,
        audience=claims.get("aud") if isinstance(claims.get("aud"), str) else None,
    )


def verify_taskpilot_token(settings: Settings, token: str, audiences: tuple[str, ...]) -> Identity:
    """Verify a token TaskPilot signed for one of `audiences`."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_secret,
            algorithms=[_ALGORITHM],
            audience=list(audiences),
            issuer=ISSUER,
            leeway=_LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken(EXPIRED) from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    return _identity(claims, "taskpilot")


class _KeySet:
    """The signing keys one JWKS URL serves, by key id, fetched without blocking the loop.

    One fetch runs at a time: requests that need the keys meanwhile wait for that fetch. The
    keys are used for JWKS_TTL_SECONDS, then fetched again, so a key removed from the JWKS is
    refused within that time. An unknown key id fetches again at once (a key just added is
    accepted), unless the last fetch was less than JWKS_MISS_SECONDS ago.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded = -math.inf  # time.monotonic() when the last successful fetch started
        self._tried = -math.inf  # when the last fetch started, whether or not it succeeded
        self._failed = False  # whether the last fetch failed
        self._fetch: asyncio.Task[None] | None = None

    async def signing_key(self, kid: str) -> jwt.PyJWK:
        """The key `kid` names; InvalidToken when the JWKS has no such key, TaskPilotError
        (unavailable) when the key is not cached and the JWKS could not be fetched."""
        if self._usable(kid) is None:
            fetch = self._fetch_in_flight()
            # The negative cache: one fetch per period at most, whatever key ids come.
            period = min(JWKS_MISS_SECONDS, JWKS_TTL_SECONDS)
            if fetch is None and time.monotonic() - self._tried >= period:
                self._tried = time.monotonic()
                fetch = self._fetch = asyncio.create_task(self._refresh())
            if fetch is not None:
                # Shielded: a request that gives up must not cancel the fetch others wait on.
                await asyncio.shield(fetch)
        key = self._usable(kid)
        if key is not None:
            return key
        if self._failed or not self._fresh():
            # Not the token's fault: the JWKS, which may have a new key, could not be read.
            raise TaskPilotError(
                ErrorCode.UNAVAILABLE,
                "Your sign-in can't be checked right now: the sign-in service's keys are"
                " unreachable. Please try again shortly.",
                retry_after=JWKS_MISS_SECONDS,
            )
        raise InvalidToken("The token is not valid.")

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded < JWKS_TTL_SECONDS

    def _usable(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid) if self._fresh() else None

    def _fetch_in_flight(self) -> asyncio.Task[None] | None:
        fetch = self._fetch
        if fetch is None or fetch.done() or fetch.get_loop() is not asyncio.get_running_loop():
            return None
        return fetch

    async def _refresh(self) -> None:
        """Replace the keys with the JWKS's current ones; on failure keep the old ones until
        they expire (a JWKS that is briefly down costs nobody their session)."""
        started = time.monotonic()
        try:
            async with httpx2.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            if not isinstance(document, dict):
                raise ValueError("the JWKS is not a JSON object")
            key_set = jwt.PyJWKSet.from_dict(document)
        except (httpx2.HTTPError, httpx2.InvalidURL, ValueError, jwt.PyJWTError) as exc:
            logger.warning("could not fetch Better Auth's JWKS from %s: %r", self.url, exc)
            self._failed = True
            return
        self._keys = {
            key.key_id: key
            for key in key_set.keys
            if key.key_id and key.public_key_use in ("sig", None)
        }
        self._loaded, self._failed = started, False


# One key set per JWKS URL for the life of the process (in practice one URL).
_key_sets: dict[str, _KeySet] = {}


def _key_set(url: str) -> _KeySet:
    key_set = _key_sets.get(url)
    if key_set is None:
        key_set = _key_sets[url] = _KeySet(url)
    return key_set


async def verify_better_auth_token(settings: Settings, token: str) -> Identity:
    """Verify a JWT from a Better Auth deployment: signed with its shared secret (HS256,
    HS512) or with a key from its JWKS (EdDSA, ES256, RS256, PS256), as its header says."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    algorithm, kid = header.get("alg"), header.get("kid")
    key: Any
    if settings.better_auth_jwks_url and algorithm in _JWKS_ALGORITHMS and isinstance(kid, str):
        jwk = await _key_set(settings.better_auth_jwks_url).signing_key(kid)
        key, algorithms = jwk.key, [jwk.algorithm_name]
    elif settings.better_auth_secret is not None and algorithm in _SHARED_SECRET_ALGORITHMS:
        key = settings.better_auth_secret.get_secret_value()
        algorithms = list(_SHARED_SECRET_ALGORITHMS)
    else:
        raise InvalidToken("The token is not valid.")
    audience, issuer = settings.better_auth_audience, settings.better_auth_issuer
    required = ["exp", "sub"] + (["aud"] if audience else []) + (["iss"] if issuer else [])
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=_LEEWAY_SECONDS,
            # With no audience configured (only allowed with the shared secret), `aud` is not
            # checked; the settings refuse a JWKS URL without one.
            options={"require": required, "verify_aud": bool(audience)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken(EXPIRED) from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    return _identity(claims, "better-auth")


async def verify_bearer_token(settings: Settings, token: str) -> Identity:
    """Verify a token for the HTTP API or the page: TaskPilot's own, else Better Auth's (whose
    keys may have to be fetched: the event loop serves other requests meanwhile)."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    if unverified.get("iss") == ISSUER and header.get("alg") == _ALGORITHM:
        return verify_taskpilot_token(settings, token, (API_AUDIENCE,))
    if settings.better_auth_secret is not None or settings.better_auth_jwks_url:
        return await verify_better_auth_token(settings, token)
    raise InvalidToken("The token is not valid.")
