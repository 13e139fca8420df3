"""HistoryState: the person's conversations in the sidebar; search, rename and delete."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx

from taskpilot.core.db import DatabaseUnavailable
from taskpilot.data.models import Conversation
from taskpilot.runtime import get_runtime
from taskpilot.services.conversations import (
    ConversationNotFound,
    ConversationStore,
)
from taskpilot.services.public import ConversationOut
from taskpilot.services.search import ConversationSearch, SearchHit
from taskpilot.web.routes import HOME
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.view_models import (
    ConversationView,
    SearchResultView,
    conversation_views,
    regroup,
    search_result_views,
)

HISTORY_LIMIT = 100
SEARCH_LIMIT = 30


class HistoryState(AuthState):
    """The sidebar's conversations (newest first), the current title, and the dialogs."""

    conversations: rx.Field[list[ConversationView]] = rx.field(default_factory=list)
    current_title: rx.Field[str] = rx.field("")
    history_error: rx.Field[str] = rx.field("")
    rename_id: rx.Field[str] = rx.field("")
    rename_title: rx.Field[str] = rx.field("")
    rename_error: rx.Field[str] = rx.field("")
    delete_id: rx.Field[str] = rx.field("")
    delete_title: rx.Field[str] = rx.field("")
    # "Search chats": what was typed (its results replace the list while it has any text).
    search_query: rx.Field[str] = rx.field("")
    search_results: rx.Field[list[SearchResultView]] = rx.field(default_factory=list)

    def _show(self, rows: list[Conversation]) -> None:
        """Show these conversations (newest first), grouped by when they were last active."""
        now = datetime.now(ZoneInfo(get_runtime().settings.timezone))
        self.conversations = conversation_views([ConversationOut.of(c) for c in rows], now)
        self.history_error = ""

    @rx.event
    async def search(self, query: str) -> Any:
        """Show the person's conversations that match what they typed in "Search chats"
        (debounced in the browser; Escape sends an empty query)."""
        self.search_query = query
        if not query.strip():
            self.search_results = []
            return None
        return await self._find()

    async def _find(self) -> Any:
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        self._show_found(await _search(identity.user_id, self.search_query))
        return None

    def _show_found(self, hits: list[SearchHit] | None) -> None:
        if hits is None:
            self.history_error = DATABASE_DOWN
            return
        self.search_results = search_result_views(hits)
        self.history_error = ""

    @rx.event
    def start_rename(self, conversation_id: str, title: str) -> None:
        """Open the rename dialog for a conversation."""
        self.rename_id = conversation_id
        self.rename_title = title
        self.rename_error = ""

    @rx.event
    def set_rename_open(self, is_open: bool) -> None:
        """The rename dialog was opened or dismissed (Escape, click outside)."""
        if not is_open:
            self.rename_id = ""
            self.rename_error = ""

    @rx.event(background=True)
    async def save_rename(self, form_data: dict[str, Any]) -> Any:
        """Give the conversation in the rename dialog its new title (and search again: it
        may match now, or no longer); in the background, outside the page's state lock
        (`TaskState._change`)."""
        async with self:
            conversation_id, query = self.rename_id, self.search_query
        token, identity = await self._token_and_identity()
        if identity is None:
            return await self._sign_out_if_still(token)
        title = str(form_data.get("title") or "")
        renamed: Conversation | None = None
        try:
            async with get_runtime().db.session() as session:
                renamed = await ConversationStore(session, identity.user_id).rename(
                    conversation_id, title
                )
        except ConversationNotFound:
            error = "That conversation no longer exists."
        except ValueError as exc:
            error = str(exc)  # written for the person (clean_conversation_title)
        except DatabaseUnavailable:
            error = DATABASE_DOWN
        searching = renamed is not None and bool(query.strip())
        hits = await _search(identity.user_id, query) if searching else None
        async with self:
            if self.token != token:
                return None  # signed in as someone else meanwhile
            dialog_open = self.rename_id == conversation_id  # not dismissed meanwhile
            if renamed is None:
                if dialog_open:
                    self.rename_error = error
                return None
            if dialog_open:
                self.rename_id = ""
            self.conversations = [
                dataclasses.replace(c, title=renamed.title) if c.id == renamed.id else c
                for c in self.conversations
            ]
            if await self._on_screen() == renamed.id:
                self.current_title = renamed.title
            if searching and self.search_query == query:
                self._show_found(hits)
        return None

    @rx.event
    def start_delete(self, conversation_id: str, title: str) -> None:
        """Ask to confirm deleting a conversation."""
        self.delete_id = conversation_id
        self.delete_title = title

    @rx.event
    def set_delete_open(self, is_open: bool) -> None:
        """The delete confirmation was dismissed."""
        if not is_open:
            self.delete_id = ""

    @rx.event(background=True)
    async def confirm_delete(self, conversation_id: str) -> Any:
        """Delete the conversation confirmed in the dialog; leave it if it is the one on
        screen. In the background, outside the page's state lock (`TaskState._change`)."""
        doomed = str(conversation_id)
        async with self:
            if self.delete_id == doomed:
                self.delete_id = ""
        token, identity = await self._token_and_identity()
        if identity is None:
            return await self._sign_out_if_still(token)
        deleted = True
        try:
            async with get_runtime().db.session() as session:
                await ConversationStore(session, identity.user_id).delete(doomed)
        except ConversationNotFound:
            pass  # already gone (another tab): just drop it from the list
        except DatabaseUnavailable:
            deleted = False
        async with self:
            if self.token != token:
                return None
            if not deleted:
                self.history_error = DATABASE_DOWN
                return None
            self.conversations = regroup([c for c in self.conversations if c.id != doomed])
            self.search_results = [r for r in self.search_results if r.id != doomed]
            if await self._on_screen() == doomed:
                return rx.redirect(HOME, replace=True)
        return None

    async def _on_screen(self) -> str:
        """The conversation the page shows (the chat state's: after a new chat's first
        message the URL is replaced in place, so the router's path is not it)."""
        from taskpilot.web.states.chat import ChatState  # chat.py imports this module

        chat = await self.get_state(ChatState)
        return chat.current_id


async def _search(user_id: str, query: str) -> list[SearchHit] | None:
    """The person's conversations that match `query`; None when the database is down."""
    try:
        async with get_runtime().db.session() as session:
            return await ConversationSearch(session, user_id).search(query, SEARCH_LIMIT)
    except DatabaseUnavailable:
        return None
