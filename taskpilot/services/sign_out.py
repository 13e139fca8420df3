"""Server-side sign-out: a TaskPilot login token can be ended before it expires.

Signing out ends that token (its id is kept in `revoked_tokens` until it would have expired);
signing out everywhere ends every token the person was issued until then (`users.signed_out_at`).
Both live in the database, so every worker refuses an ended token at once. Tokens from Better
Auth are ended by Better Auth; signing out everywhere ends those issued before it too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.core.security import Identity
from taskpilot.data.models import RevokedToken, User, as_utc, utcnow

SIGNED_OUT = "You have signed out; sign in again."


# Every authenticated request asks this: built once. A token without an id matches no row.
_SIGNED_IN_USER = sa.select(
    User,
    sa.exists().where(col(RevokedToken.jti) == sa.bindparam("token_id")).label("revoked"),
).where(col(User.id) == sa.bindparam("user_id"))


async def signed_in_user(session: AsyncSession, identity: Identity) -> tuple[User | None, bool]:
    """The token's user, and whether a sign-out ended the token: one query for both (every
    authenticated request asks)."""
    params = {"user_id": identity.user_id, "token_id": identity.token_id or ""}
    row = (await session.exec(_SIGNED_IN_USER, params=params)).first()  # type: ignore[call-overload]
    if row is None:
        return None, False
    user, was_revoked = row
    signed_out = as_utc(user.signed_out_at)
    issued = identity.issued_at
    everywhere = signed_out is not None and issued is not None and issued <= signed_out.timestamp()
    return user, bool(was_revoked) or everywhere


async def ended(session: AsyncSession, identity: Identity) -> bool:
    """Whether this token was ended by a sign-out."""
    return (await signed_in_user(session, identity))[1]


async def sign_out(session: AsyncSession, identity: Identity) -> None:
    """End this token on every worker (and forget tokens ended earlier that have expired)."""
    now = utcnow()
    await session.exec(  # type: ignore[call-overload]
        sa.delete(RevokedToken).where(col(RevokedToken.expires_at) < now)
    )
    if identity.token_id is not None and identity.expires_at is not None:
        expires = datetime.fromtimestamp(identity.expires_at, UTC)
        if await session.get(RevokedToken, identity.token_id) is None:
            session.add(
                RevokedToken(jti=identity.token_id, user_id=identity.user_id, expires_at=expires)
            )
    await session.commit()


async def sign_out_everywhere(session: AsyncSession, identity: Identity) -> None:
    """End every token this person was issued until now, on every worker."""
    await session.exec(  # type: ignore[call-overload]
        sa.update(User).where(col(User.id) == identity.user_id).values(signed_out_at=utcnow())
    )
    await session.commit()
