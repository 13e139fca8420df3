"""Who is using the page: the browser's token, verified on the server for every handler."""

from __future__ import annotations

from reflex_base.registry import RegistrationContext
from reflex_base.utils.exceptions import ReflexRuntimeError

from taskpilot.core.config import Settings
from taskpilot.core.security import Identity, InvalidToken, verify_bearer_token

# The localStorage key the browser keeps the login token under (docs/ui-contract.md).
TOKEN_KEY = "taskpilot_token"  # noqa: S105 - a storage key, not a secret


async def identify(settings: Settings, token: str) -> Identity | None:
    """The verified identity behind `token`, or None when it is missing, forged or expired.

    Raises TaskPilotError (unavailable) when Better Auth's keys could not be fetched to check
    it: the person is not signed out for that.
    """
    if not token:
        return None
    try:
        return await verify_bearer_token(settings, token)
    except InvalidToken:
        return None


async def tab_connected(client_token: str) -> bool:
    """Whether the browser tab with this Reflex client token is connected to any worker (a
    background loop of a tab that closed ends itself; Reflex does not cancel it). True
    outside a running app (state tests), as Reflex's own shared states ask it."""
    try:
        namespace = RegistrationContext.get().app.event_namespace
    except (LookupError, ReflexRuntimeError):
        return True
    if namespace is None or not client_token:
        return True
    return bool(await namespace._token_manager.is_token_connected(client_token))
