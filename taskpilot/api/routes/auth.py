"""Sign up and log in; both answer with a bearer token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from taskpilot.api.deps import ClientAddress, CurrentUser, IdentityDep, RuntimeDep, SessionDep
from taskpilot.api.schemas import (
    ErrorOut,
    LogInRequest,
    SettingsRequest,
    SignUpRequest,
    TokenOut,
    UserOut,
)
from taskpilot.core.limits.refusals import RateLimited
from taskpilot.core.security import mint_access_token
from taskpilot.data.models import User
from taskpilot.runtime import Runtime
from taskpilot.services.sign_out import sign_out, sign_out_everywhere
from taskpilot.services.users import AccountError, EmailTaken, UserService

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, display_name=user.display_name, timezone=user.timezone
    )


async def _count_attempt(runtime: Runtime, email: str, client: str) -> None:
    """Count a sign-in attempt; 429 with Retry-After when this email from this address, or
    this address over all emails, is over its limit."""
    try:
        await runtime.limits.sign_in_attempt(email, client)
    except RateLimited as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=exc.message,
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc


def _token(runtime: Runtime, user: User) -> TokenOut:
    token, lifetime = mint_access_token(runtime.settings, user.id, user.email)
    return TokenOut(access_token=token, expires_in=lifetime, user=_user_out(user))


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
async def sign_up(
    body: SignUpRequest, runtime: RuntimeDep, session: SessionDep, client: ClientAddress
) -> TokenOut:
    """Create an account and sign in."""
    await _count_attempt(runtime, body.email, client)
    try:
        user = await UserService(session).sign_up(body.email, body.password, body.display_name)
    except EmailTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return _token(runtime, user)


@router.post("/login", responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}})
async def log_in(
    body: LogInRequest, runtime: RuntimeDep, session: SessionDep, client: ClientAddress
) -> TokenOut:
    """Sign in with email and password."""
    await _count_attempt(runtime, body.email, client)
    try:
        user = await UserService(session).log_in(body.email, body.password)
    except AccountError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from exc
    return _token(runtime, user)


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"model": ErrorOut}}
)
async def log_out(identity: IdentityDep, user: CurrentUser, session: SessionDep) -> None:
    """Sign out: this token stops working at once, on every worker."""
    await sign_out(session, identity)


@router.post(
    "/logout-everywhere",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"model": ErrorOut}},
)
async def log_out_everywhere(identity: IdentityDep, user: CurrentUser, session: SessionDep) -> None:
    """Sign out on every device: every token issued to you until now stops working."""
    await sign_out_everywhere(session, identity)


@router.get("/me", responses={401: {"model": ErrorOut}})
async def me(user: CurrentUser) -> UserOut:
    """Who the bearer token belongs to."""
    return _user_out(user)


@router.patch("/me", responses={401: {"model": ErrorOut}, 422: {"model": ErrorOut}})
async def update_me(
    body: SettingsRequest, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> UserOut:
    """Set your time zone: "tomorrow" and "friday" in your messages count from your day."""
    try:
        saved = await UserService(session).set_timezone(await session.merge(user), body.timezone)
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    runtime.turns.zones.changed(saved.id, saved.timezone)
    return _user_out(saved)
