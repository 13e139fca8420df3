"""Typed dependencies: which runtime, which database session, who is asking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.core.limits.addresses import client_address
from taskpilot.core.origins import origin_allowed
from taskpilot.core.security import Identity, InvalidToken, verify_bearer_token
from taskpilot.data.models import User
from taskpilot.runtime import Runtime
from taskpilot.services.users import AccountError, UserService

_bearer = HTTPBearer(auto_error=False, description="A TaskPilot or Better Auth JWT.")


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` in its
# thread pool, a round trip per request that a busy event loop makes slow.


async def get_app_runtime(request: Request) -> Runtime:
    """The runtime the API was built with."""
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_app_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with runtime.db.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_identity(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The verified caller; 401 when the bearer token is missing or not valid, 503 when
    Better Auth's keys could not be fetched to check it."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("Sign in first: send 'Authorization: Bearer <token>'.")
    try:
        return await verify_bearer_token(runtime.settings, credentials.credentials)
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from exc


IdentityDep = Annotated[Identity, Depends(get_identity)]


async def get_current_user(identity: IdentityDep, runtime: RuntimeDep) -> User:
    """The signed-in user's row (created on first sight for Better Auth users).

    Looked up in a session of its own, closed at once: a chat turn must not hold a pooled
    connection for the model's whole run.
    """
    try:
        async with runtime.db.session() as session:
            return await UserService(session).ensure(identity)
    except AccountError as exc:
        raise _unauthorized(str(exc)) from exc


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_path_user(
    user_id: Annotated[str, Path(max_length=64, description="Your user id.")],
    identity: IdentityDep,
    runtime: RuntimeDep,
) -> User:
    """The signed-in user, who must be the one named in the path (403 otherwise)."""
    if identity.user_id != user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="You can only access your own data.")
    return await get_current_user(identity, runtime)


PathUser = Annotated[User, Depends(get_path_user)]


async def count_request(identity: IdentityDep, runtime: RuntimeDep) -> None:
    """A request that is not a turn counts against its person's budget (429 past it)."""
    await runtime.limits.request(identity.user_id)


CountedRequest = Depends(count_request)


async def check_origin(request: Request, runtime: RuntimeDep) -> None:
    """A browser's request must come from ALLOWED_ORIGINS or the server's own origin (403
    otherwise). Requests without an Origin header are not from a browser page and need only
    their bearer token."""
    origin = request.headers.get("origin")
    if not origin_allowed(origin, request.url.scheme, request.headers, runtime.settings):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"The origin {origin!r} is not allowed to use TaskPilot's ChatKit endpoints.",
        )


AllowedOrigin = Depends(check_origin)


async def get_client_address(request: Request, runtime: RuntimeDep) -> str:
    """The caller's network address, through the configured number of trusted proxies."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    return client_address(peer, forwarded, runtime.settings.trusted_proxies)


ClientAddress = Annotated[str, Depends(get_client_address)]
