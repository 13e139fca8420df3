"""ExportState: the account menu's "Export tasks (CSV)" and its calendar feed dialog. Both go
through `services/export.py`, as the API's export routes do.

The feed's URL holds its secret, which is kept only as a hash: the dialog can show it only
right after making it, and forgets it when it closes (the page's state may live in Redis).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import reflex as rx

from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.origins import own_origin
from taskpilot.runtime import get_runtime
from taskpilot.services.export import CSV_FILENAME, CalendarFeeds, feed_path, tasks_csv
from taskpilot.services.tasks import TaskQuery
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState

logger = logging.getLogger("taskpilot.web")


class ExportState(AuthState):
    """The CSV download and the calendar feed dialog."""

    feed_open: rx.Field[bool] = rx.field(False)
    # The new feed's URL, only between making it and closing the dialog.
    feed_url: rx.Field[str] = rx.field("")
    # When the person's current feed was made, in words ("" when they have none).
    feed_since: rx.Field[str] = rx.field("")
    feed_error: rx.Field[str] = rx.field("")
    # A feed is being made or turned off: the dialog's buttons wait (the two would race).
    feed_busy: rx.Field[bool] = rx.field(False)

    def _zone_name(self) -> str:
        return self._zone or get_runtime().settings.timezone

    def _since(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(ZoneInfo(self._zone_name()))
        return f"{local.day} {local:%B %Y}"

    def _origin(self) -> str:
        """Where this server is reached (the page's websocket goes to the same place as /api):
        the Host header, with the page's scheme, through the trusted proxies."""
        headers = self.router.headers.raw_headers
        scheme = urlsplit(self.router.headers.origin).scheme or "http"
        trusted = get_runtime().settings.trusted_proxies
        return own_origin(scheme, headers, trusted) or ""

    @rx.event
    async def download_csv(self) -> Any:
        """Download the person's tasks as a CSV file."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        try:
            async with get_runtime().db.session() as session:
                body = await tasks_csv(session, identity.user_id, TaskQuery(), self._zone_name())
        except DatabaseUnavailable:
            return rx.toast.error(DATABASE_DOWN)
        return rx.download(data=body, filename=CSV_FILENAME, mime_type="text/csv")

    @rx.event
    async def open_feed(self) -> Any:
        """Open the calendar feed dialog, saying whether a feed is on."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        self.feed_open, self.feed_url, self.feed_error = True, "", ""
        # Opened afresh, never stuck waiting: a worker that died mid-action never cleared it.
        self.feed_busy = False
        try:
            async with get_runtime().db.session() as session:
                self.feed_since = self._since(
                    await CalendarFeeds(session, identity.user_id).created_at()
                )
        except DatabaseUnavailable:
            self.feed_error = DATABASE_DOWN
        return None

    @rx.event
    def set_feed_open(self, is_open: bool) -> None:
        """The dialog was closed (Close, Escape, a click outside): forget the URL."""
        if not is_open:
            self.feed_open, self.feed_url, self.feed_error = False, "", ""

    @rx.event(background=True)
    async def create_feed(self) -> Any:
        """Make a feed URL (replacing any earlier one) and show it, if the dialog is still
        open; written in the background, outside the page's state lock (`TaskState._change`)."""
        return await self._feed_action(create=True)

    @rx.event(background=True)
    async def revoke_feed(self) -> Any:
        """Turn the feed off: its URL stops working at once. Written in the background."""
        return await self._feed_action(create=False)

    async def _feed_action(self, create: bool) -> Any:
        """One feed action at a time (`feed_busy`): a Revoke overtaking a Create would leave
        the dialog showing a URL that no longer works."""
        async with self:
            if self.feed_busy:
                return None
            self.feed_busy = True
        try:
            return await self._change_feed(create)
        finally:
            async with self:
                self.feed_busy = False

    async def _change_feed(self, create: bool) -> Any:
        token, identity = await self._token_and_identity()
        if identity is None:
            return await self._sign_out_if_still(token)
        secret, created, error = "", None, ""
        try:
            async with get_runtime().db.session() as session:
                feeds = CalendarFeeds(session, identity.user_id)
                if create:
                    secret = await feeds.create()
                    created = await feeds.created_at()
                else:
                    await feeds.revoke()
        except DatabaseUnavailable:
            error = DATABASE_DOWN
        async with self:
            if self.token != token:
                return None  # signed in as someone else meanwhile
            if self.feed_open:  # not closed meanwhile (the URL is shown only in the dialog)
                self.feed_error = error
                if not error:
                    self.feed_since = self._since(created)
                    self.feed_url = self._origin() + feed_path(secret) if create else ""
        if create or error:
            return None
        return rx.toast("Calendar feed revoked", duration=2500)
