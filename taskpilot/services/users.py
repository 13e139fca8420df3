"""Accounts: sign-up, log-in, the person's time zone, and the rows for people who arrive
with a Better Auth token."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.core.clock import clean_zone
from taskpilot.core.db import Database
from taskpilot.core.security import Identity, hash_password, verify_password
from taskpilot.data.models import User
from taskpilot.services.sign_out import SIGNED_OUT, signed_in_user
from taskpilot.services.text import unstorable

logger = logging.getLogger(__name__)

MIN_PASSWORD = 8
MAX_PASSWORD = 256
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class AccountError(ValueError):
    """Sign-up or log-in could not go ahead; the message is for the person."""


class EmailTaken(AccountError):
    """An account with that email exists."""


def clean_email(email: str) -> str:
    """An email address, lower-cased and checked for shape."""
    value = str(email).strip().lower()
    if len(value) > 320 or not _EMAIL_RE.match(value) or unstorable(value) is not None:
        raise AccountError("Enter a valid email address, like ada@example.com.")
    return value


def check_password(password: str) -> str:
    """A password long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Use a password of at most {MAX_PASSWORD} characters.")
    if not _encodable(password):
        raise AccountError("That password has characters that are not text; type another.")
    return password


def _encodable(text: str) -> bool:
    # Passwords are hashed as UTF-8; an unpaired surrogate has no UTF-8 form.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_display_name(name: str) -> str:
    """A display name on one line, bounded; control characters are refused."""
    value = " ".join(str(name).split())[:120]
    if (char := unstorable(value)) is not None:
        raise AccountError(f"A name can't contain {char}.")
    return value


_ZONE = sa.select(col(User.timezone)).where(col(User.id) == sa.bindparam("user_id"))


class TimeZones:
    """Each person's time zone, as the turn engine needs it once per turn: read from the
    database at most once a minute per person and worker (a change made on this worker is
    seen at once, on the others within ZONE_SECONDS)."""

    ZONE_SECONDS = 60.0
    _MOST = 10_000

    def __init__(self) -> None:
        self._known: dict[str, tuple[str | None, float]] = {}

    async def of(self, db: Database, user_id: str) -> str | None:
        """The person's zone, or None when they have not set one (or it can't be read now:
        the server's zone stands in)."""
        now = time.monotonic()
        known = self._known.get(user_id)
        if known is not None and now - known[1] < self.ZONE_SECONDS:
            return known[0]
        try:
            async with db.session() as session:
                row = (await session.exec(_ZONE, params={"user_id": user_id})).first()  # type: ignore[call-overload]
        except Exception:  # the database is away (or not migrated yet): the server's zone
            logger.warning("could not read a person's time zone", exc_info=True)
            return None
        zone: str | None = row[0] if row is not None else None
        newer = self._known.get(user_id)
        if newer is not None and newer[1] > now:
            return newer[0]  # set while this read was on its way: the new one stands
        if len(self._known) >= self._MOST:
            self._known.clear()
        self._known[user_id] = (zone, now)
        return zone

    def changed(self, user_id: str, zone: str | None) -> None:
        """`user_id` just set `zone`: use it at once on this worker."""
        self._known[user_id] = (zone, time.monotonic())


class UserService:
    """Account operations."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sign_up(self, email: str, password: str, display_name: str = "") -> User:
        """Create an account; `EmailTaken` when the address is in use."""
        address = clean_email(email)
        user = User(
            email=address,
            display_name=clean_display_name(display_name) or address.split("@")[0],
            # Argon2 takes ~0.3 s of CPU: off the event loop, so other requests keep flowing.
            password_hash=await asyncio.to_thread(hash_password, check_password(password)),
        )
        self.session.add(user)
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise EmailTaken("An account with that email already exists; log in instead.") from exc
        return user

    async def set_timezone(self, user: User, zone: str) -> User:
        """Store the person's time zone (an IANA name); `AccountError` for anything else."""
        try:
            user.timezone = clean_zone(zone)
        except ValueError as exc:
            raise AccountError(str(exc)) from exc
        self.session.add(user)
        await self.session.commit()
        return user

    async def log_in(self, email: str, password: str) -> User:
        """The account for these credentials; one vague error for any mismatch."""
        try:
            address = clean_email(email)
        except AccountError as exc:
            raise AccountError("Wrong email or password.") from exc
        user = (await self.session.exec(select(User).where(User.email == address))).first()
        # One Argon2 check whether or not the account exists (a dummy hash stands in for a
        # missing one), so the time taken does not tell anyone which emails have accounts.
        stored = user.password_hash if user is not None else None
        matches = _encodable(password) and await asyncio.to_thread(
            verify_password, password, stored
        )
        if user is None or not matches:
            raise AccountError("Wrong email or password.")
        return user

    async def ensure(self, identity: Identity) -> User:
        """The user a verified token names, created on first sight for Better Auth tokens."""
        user, ended = await signed_in_user(self.session, identity)
        if user is not None:
            if ended:
                raise AccountError(SIGNED_OUT)
            return user
        if identity.source != "better-auth":
            raise AccountError("This account no longer exists.")
        email = (identity.email or f"{identity.user_id}@better-auth.invalid").lower()
        user = User(id=identity.user_id, email=email, display_name=email.split("@")[0])
        self.session.add(user)
        try:
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            existing = await self.session.get(User, identity.user_id)
            if existing is None:
                raise AccountError(
                    "That email is already used by another TaskPilot account."
                ) from None
            return existing
        return user
