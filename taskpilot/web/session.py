"""Who is using the page: the browser's token, verified on the server for every handler."""

from __future__ import annotations

import asyncio

from taskpilot.core.config import Settings
from taskpilot.core.security import Identity, InvalidToken, verify_access_token

# The localStorage key the browser keeps the login token under (docs/ui-contract.md).
TOKEN_KEY = "taskpilot_token"  # noqa: S105 - a storage key, not a secret


async def identify(settings: Settings, token: str) -> Identity | None:
    """The verified identity behind `token`, or None when it is missing, forged or expired."""
    if not token:
        return None
    try:
        if settings.better_auth_jwks_url:
            # A JWKS fetch is blocking HTTP: keep it off the event loop.
            return await asyncio.to_thread(verify_access_token, settings, token)
        return verify_access_token(settings, token)
    except InvalidToken:
        return None
