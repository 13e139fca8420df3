"""AuthState: the login token in the browser, sign-up, log-in and log-out.

The browser keeps only the token (localStorage `taskpilot_token`). Every handler that touches
data verifies it on the server and acts as its subject; the page never sends a user id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import reflex as rx

from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.errors import DATABASE_DOWN, TaskPilotError
from taskpilot.core.limits.addresses import client_address
from taskpilot.core.limits.refusals import RateLimited
from taskpilot.core.security import Identity, mint_access_token
from taskpilot.data.models import User
from taskpilot.runtime import get_runtime
from taskpilot.services.sign_out import ended, sign_out
from taskpilot.services.users import AccountError, UserService
from taskpilot.web.routes import HOME, LOGIN
from taskpilot.web.session import TOKEN_KEY, identify
from taskpilot.web.wording import greeting, initials

logger = logging.getLogger("taskpilot.web")


# The browser's IANA time zone ("Europe/Paris").
_BROWSER_ZONE = "Intl.DateTimeFormat().resolvedOptions().timeZone"


async def verified(token: str, unsure: Identity | None = None) -> Identity | None:
    """The verified identity behind `token`, or None (also once it was ended by signing out,
    here or on another device).

    When Better Auth's keys can't be fetched to check it: `unsure`, the identity this same
    token was verified as before (a tab's watcher), until it expires or is ended; without
    one, not signed in."""
    try:
        identity = await identify(get_runtime().settings, token)
    except TaskPilotError:
        logger.warning("could not verify a sign-in: the JWKS is unavailable")
        expired = unsure is not None and (unsure.expires_at or 0) <= time.time()
        identity = None if expired else unsure
    if identity is None:
        return None
    try:
        async with get_runtime().db.session() as session:
            return None if await ended(session, identity) else identity
    except DatabaseUnavailable:
        return identity  # nothing can be read or changed without the database anyway


class AuthState(rx.State):
    """The signed-in person, as far as the page needs to know."""

    # sync=True: logging out in one tab logs out the others.
    token: str = rx.LocalStorage(name=TOKEN_KEY, sync=True)
    user_name: rx.Field[str] = rx.field("")
    user_email: rx.Field[str] = rx.field("")
    form_error: rx.Field[str] = rx.field("")
    submitting: rx.Field[bool] = rx.field(False)
    # The time zone stored for the person ("" when none), to store the browser's only when
    # it differs.
    _zone: str = ""

    @rx.var
    def greeting(self) -> str:
        """The start screen's heading (both chat pages), with the person's first name."""
        return greeting(self.user_name)

    @rx.var
    def initials(self) -> str:
        """Letters for the account button."""
        return initials(self.user_name, self.user_email)

    async def _identity(self) -> Identity | None:
        """The verified identity behind the browser's token (`verified`)."""
        return await verified(self.token)

    async def _token_and_identity(self) -> tuple[str, Identity | None]:
        """For a background handler: the tab's token, read under the state lock, and whom it
        verifies as (`verified`), checked outside it: the JWKS or the database may be slow,
        and the tab's own streaming reply takes that lock for every delta."""
        async with self:
            token = self.token
        return token, await verified(token)

    async def _sign_out_if_still(self, token: str) -> Any:
        """For a background handler whose token did not verify: sign out, unless the tab was
        signed in again meanwhile (with another token)."""
        async with self:
            if self.token == token:
                return await self._sign_out()
        return None

    async def _forget_user(self) -> None:
        """Clear the token and every state that holds the person's data, whichever of the
        page's states signs out (and in a background handler, where `self` is a proxy)."""
        auth = await self.get_state(AuthState)
        auth.token = ""
        auth.user_name = ""
        auth.user_email = ""
        for state_class in AuthState.get_substates():
            substate = await self.get_state(state_class)
            substate.reset()

    async def _sign_out(self) -> Any:
        """Forget the person and send them to the login page (expired or invalid token)."""
        await self._forget_user()
        return rx.redirect(LOGIN, replace=True)

    def _remember(self, user: User) -> None:
        self.token, _ = mint_access_token(get_runtime().settings, user.id, user.email)
        self.user_name = user.display_name
        self.user_email = user.email
        self.form_error = ""

    async def _submit(
        self, email: str, action: Callable[[UserService], Awaitable[User]]
    ) -> AsyncIterator[Any]:
        """Run a sign-up or log-in: show progress, then sign in or say why not."""
        self.submitting = True
        yield
        runtime = get_runtime()
        client = client_address(
            self.router.session.client_ip,
            self.router.headers.raw_headers.get("x-forwarded-for"),
            runtime.settings.trusted_proxies,
        )
        try:
            await runtime.limits.sign_in_attempt(email, client)
            async with runtime.db.session() as session:
                user = await action(UserService(session))
        except (AccountError, RateLimited) as exc:
            self.form_error = str(exc)  # written for the person
        except DatabaseUnavailable:
            self.form_error = DATABASE_DOWN
        else:
            self._remember(user)
            yield rx.redirect(HOME, replace=True)
        finally:
            self.submitting = False

    @rx.event
    async def redirect_if_signed_in(self) -> Any:
        """On the login and sign-up pages: a signed-in visitor goes straight to the chat.

        It leaves `form_error` alone: on a first visit this runs after any submit the person
        managed before the page connected, and must not wipe that submit's message.
        """
        if await self._identity() is not None:
            return rx.redirect(HOME, replace=True)
        return None

    @rx.event
    async def sign_up(self, form_data: dict[str, Any]) -> Any:
        """Create an account from the sign-up form and sign in."""
        email = str(form_data.get("email") or "").strip()
        password = str(form_data.get("password") or "")
        name = str(form_data.get("name") or "")
        if not email:
            self.form_error = "Enter your email address."
            return
        if not password:
            self.form_error = "Choose a password of at least 8 characters."
            return
        async for update in self._submit(email, lambda users: users.sign_up(email, password, name)):
            yield update

    @rx.event
    async def log_in(self, form_data: dict[str, Any]) -> Any:
        """Check the log-in form's credentials and sign in."""
        email = str(form_data.get("email") or "").strip()
        password = str(form_data.get("password") or "")
        if not email or not password:
            self.form_error = "Enter your email address and password."
            return
        async for update in self._submit(email, lambda users: users.log_in(email, password)):
            yield update

    @rx.event
    async def log_out(self) -> Any:
        """End the token on the server, then forget it (in every tab) and the page's data;
        forgotten even when it can't be ended (the database or Better Auth's keys away)."""
        try:
            identity = await identify(get_runtime().settings, self.token)
        except TaskPilotError:
            logger.warning("could not end a token on sign-out: the JWKS is unavailable")
            identity = None
        if identity is not None:
            try:
                async with get_runtime().db.session() as session:
                    await sign_out(session, identity)
            except DatabaseUnavailable:
                logger.warning("could not end a token on sign-out: the database is unavailable")
        return await self._sign_out()

    def _ask_zone(self, user: User) -> Any:
        """After a page load: ask the browser for its time zone (`remember_timezone`), so
        "tomorrow" in a message means the person's tomorrow."""
        self._zone = user.timezone or ""
        return rx.call_script(_BROWSER_ZONE, callback=AuthState.remember_timezone)

    @rx.event(background=True)
    async def remember_timezone(self, zone: Any) -> None:
        """Store the browser's time zone for the person, when it is a real one and new.

        In the background, writing outside the page's state lock: it comes in as a page
        opens, often just as the first message is sent, and a regular handler would hold up
        that reply's stream for as long as the database takes the write (or the token's check
        the JWKS)."""
        async with self:
            if not isinstance(zone, str) or not zone or zone == self._zone:
                return
        token, identity = await self._token_and_identity()
        if identity is None:
            return
        runtime = get_runtime()
        try:
            async with runtime.db.session() as session:
                users = UserService(session)
                await users.set_timezone(await users.ensure(identity), zone)
        except AccountError:
            logger.info("the browser's time zone is not one this server knows")
            return
        except DatabaseUnavailable:
            return  # asked again on the next page load
        async with self:
            if self.token == token:  # not signed in as someone else meanwhile
                self._zone = zone
        runtime.turns.zones.changed(identity.user_id, zone)

    @rx.event
    def clear_form_error(self) -> None:
        """Hide the form's error once the person edits the form again."""
        self.form_error = ""
