"""Passwords and tokens: who is asking, proven.

TaskPilot signs two kinds of JWT with one secret, told apart by audience:
- access tokens (`taskpilot-api`), returned by sign-up/log-in, for the HTTP API;
- MCP tokens (`taskpilot-mcp`), minted by the agent service for one turn, valid a few
  minutes, that name the user whose tasks the MCP tools may touch.
Tokens from an existing Better Auth deployment are accepted as access tokens too.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from pwdlib import PasswordHash

from taskpilot.core.config import Settings

ISSUER = "taskpilot"
API_AUDIENCE = "taskpilot-api"
MCP_AUDIENCE = "taskpilot-mcp"
_ALGORITHM = "HS256"
_LEEWAY_SECONDS = 10


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
    return PasswordHash.recommended()  # Argon2id


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
        raise InvalidToken("The token has expired; sign in again.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    return _identity(claims, "taskpilot")


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def verify_better_auth_token(settings: Settings, token: str) -> Identity:
    """Verify a JWT from a Better Auth deployment (its shared secret or its JWKS)."""
    options: dict[str, Any] = {"require": ["exp", "sub"]}
    kwargs: dict[str, Any] = {"leeway": _LEEWAY_SECONDS, "options": options}
    if settings.better_auth_issuer:
        kwargs["issuer"] = settings.better_auth_issuer
    if settings.better_auth_audience:
        kwargs["audience"] = settings.better_auth_audience
    else:
        options["verify_aud"] = False
    try:
        if settings.better_auth_jwks_url:
            key = _jwks_client(settings.better_auth_jwks_url).get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=["EdDSA", "ES256", "RS256", "PS256"], **kwargs
            )
        elif settings.better_auth_secret is not None:
            claims = jwt.decode(
                token,
                settings.better_auth_secret.get_secret_value(),
                algorithms=["HS256", "HS512"],
                **kwargs,
            )
        else:
            raise InvalidToken("The token is not valid.")
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The token has expired; sign in again.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    return _identity(claims, "better-auth")


def verify_access_token(settings: Settings, token: str) -> Identity:
    """Verify a bearer token for the HTTP API: TaskPilot's own, else Better Auth's."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("The token is not valid.") from exc
    if unverified.get("iss") == ISSUER and header.get("alg") == _ALGORITHM:
        return verify_taskpilot_token(settings, token, (API_AUDIENCE,))
    if settings.better_auth_secret is not None or settings.better_auth_jwks_url:
        return verify_better_auth_token(settings, token)
    raise InvalidToken("The token is not valid.")
