"""The database tables. Alembic migrations under `alembic/` create exactly these.

Every row that belongs to a person carries `user_id`, and every index that serves a
listing starts with it, so per-user queries stay fast and are easy to scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import Field as ModelField
from sqlmodel import Field, SQLModel

# The title of a conversation before its first message names it.
NEW_CHAT_TITLE = "New chat"


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random, URL-safe identifier for users and conversations."""
    return uuid.uuid4().hex


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kwargs)


class Priority(StrEnum):
    """How urgent a task is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Role(StrEnum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"


class Feedback(StrEnum):
    """What a person thought of an assistant reply (ChatKit's thumbs up / down)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"


class TurnStatus(StrEnum):
    """Where a user's message is in its turn (the rules are in `agent/engine.py`).

    `running`: one attempt holds it, renewing `lease_until`; at most one message of a
    conversation is running (a unique index says so). `answered`: its one reply is stored.
    `failed`: no reply; the reason is in `error`, and a retry may claim it again.
    `awaiting`: the run paused at a tool that waits for the person's approval; the paused
    run is in `paused_run`, no lease runs, and it holds the conversation as a running turn
    does, until a decision resumes it (or a new message declines it).
    """

    RUNNING = "running"
    ANSWERED = "answered"
    FAILED = "failed"
    AWAITING = "awaiting"


# The statuses that hold a conversation: at most one message of a conversation is in one.
HOLDING = "status IN ('running', 'awaiting')"


class Approval(StrEnum):
    """Where a tool call that waits for the person's approval stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class User(SQLModel, table=True):
    """A person. `password_hash` is empty for people who sign in through Better Auth."""

    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True}, index=False)
    display_name: str = Field(default="", max_length=120)
    password_hash: str = Field(default="", max_length=255)
    # Per-user task numbers ("task 3") come from this counter, bumped atomically.
    task_seq: int = Field(default=0)
    created_at: datetime = _ts()
    # "Sign out everywhere": TaskPilot tokens issued before this are refused.
    signed_out_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # The person's IANA time zone ("Europe/Paris"): what "today" and "friday" mean for them.
    # None until their browser or the API says; the server's TIMEZONE stands in.
    timezone: str | None = Field(default=None, max_length=64)


class RevokedToken(SQLModel, table=True):
    """A TaskPilot login token ended by signing out, kept until it would have expired."""

    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=64, ondelete="CASCADE")
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)


class CalendarFeed(SQLModel, table=True):
    """A person's private calendar feed (at most one): the secret in its URL is
    `tpcal_<selector><verifier>`; the row keeps the selector, to find it, and only a SHA-256
    of the verifier, compared in constant time (`services/export.py`). Revoking deletes it."""

    __tablename__ = "calendar_feeds"

    user_id: str = Field(
        foreign_key="users.id", primary_key=True, max_length=64, ondelete="CASCADE"
    )
    selector: str = Field(max_length=32, sa_column_kwargs={"unique": True}, index=False)
    verifier_hash: str = Field(max_length=64)
    created_at: datetime = _ts()


class Task(SQLModel, table=True):
    """One to-do item. `number` is what the person and the agent call its id."""

    __tablename__ = "tasks"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "number", name="uq_tasks_user_number"),
        sa.Index("ix_tasks_user_completed_due", "user_id", "completed", "due_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="users.id", max_length=64, ondelete="CASCADE")
    number: int
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    completed: bool = Field(default=False)
    priority: str = Field(default=Priority.MEDIUM.value, max_length=10)
    due_date: date | None = Field(default=None)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    completed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # A repeating task's rule, an RFC 5545 RRULE value ("FREQ=WEEKLY;BYDAY=MO"); its due date
    # is the next occurrence (`services/repeats.py`). None: the task does not repeat.
    repeat: str | None = Field(default=None, max_length=200)


class Conversation(SQLModel, table=True):
    """A chat thread. ChatKit threads are conversations too."""

    __tablename__ = "conversations"
    __table_args__ = (sa.Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=64, ondelete="CASCADE")
    title: str = Field(default=NEW_CHAT_TITLE, max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ToolCall(BaseModel):
    """One tool call of a turn, as streamed, stored with the reply, and shown."""

    call_id: str = ""
    name: str
    arguments: dict[str, Any] = ModelField(default_factory=dict)
    result: Any = None
    is_error: bool = False
    # Set on calls that wait for the person (`DESTRUCTIVE` tools): pending, then decided.
    approval: Approval | None = None
    # Set once the person undid this call's change (its card's Undo; `services/undo_marks.py`);
    # `undoing`: when an Undo claimed it, until the tool has taken the change back or refused.
    undone: bool = False
    undoing: datetime | None = ModelField(
        default=None,
        description="Set while an Undo of this call is under way (it then reads `undone`, or"
        " not if refused); one older than a minute no longer holds.",
    )

    @classmethod
    def stored(cls, calls: Iterable[Mapping[str, Any]] | None) -> list[ToolCall]:
        """A message's `tool_calls` column as calls."""
        return [cls.model_validate(call) for call in calls or []]

    @staticmethod
    def to_store(calls: Iterable[ToolCall]) -> list[dict[str, Any]]:
        """Calls as the `tool_calls` column holds them (JSON; `approval` and `undone` only
        where set)."""
        return [call.model_dump(mode="json", exclude=_unset(call)) for call in calls]


def _unset(call: ToolCall) -> set[str]:
    return {name for name in ("approval", "undone", "undoing") if not getattr(call, name)}


class Message(SQLModel, table=True):
    """One message of a conversation, with the tool calls of the turn it answers."""

    __tablename__ = "messages"
    __table_args__ = (
        # The history window: WHERE conversation_id = ? ORDER BY id DESC LIMIT n.
        sa.Index("ix_messages_conversation_id", "conversation_id", "id"),
        sa.UniqueConstraint("user_id", "client_message_id", name="uq_messages_client_id"),
        # At most one reply per user message, whatever the timing of its attempts; and the
        # index that finds a reply (or a message's replay) without a scan.
        sa.Index("ux_messages_reply_to_id", "reply_to_id", unique=True),
        # One running (or paused) turn per conversation: a second message waits or is
        # refused, so the stored history alternates question and answer.
        sa.Index(
            "ux_messages_running_turn",
            "conversation_id",
            unique=True,
            sqlite_where=sa.text(HOLDING),
            postgresql_where=sa.text(HOLDING),
        ),
        # The versions of an edited question: WHERE edit_of_id = <its first version's id>.
        sa.Index("ix_messages_edit_of_id", "edit_of_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    )
    conversation_id: str = Field(foreign_key="conversations.id", max_length=64, ondelete="CASCADE")
    user_id: str = Field(foreign_key="users.id", max_length=64, ondelete="CASCADE")
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=sa.Text)
    # What the agent did in this turn: `ToolCall`s as JSON (`ToolCall.stored` reads them).
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    client_message_id: str | None = Field(default=None, max_length=100)
    status: str = Field(default=TurnStatus.ANSWERED.value, max_length=16)
    reply_to_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    error: str | None = Field(default=None, max_length=500)
    # On user messages: which attempt at the turn holds (or last held) it, and until when a
    # running attempt's lease lasts. Finishing or failing is conditional on both.
    attempt: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    lease_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # Stop asked of the attempt with this number (`TurnStore.request_stop`): it stops at its
    # next lease renewal at the latest, on whichever worker runs it.
    stop_attempt: int | None = Field(default=None)
    # On a user message awaiting approval: the paused run (`PausedRun`), as JSON.
    paused_run: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # On assistant replies: the person's rating, if they gave one.
    feedback: str | None = Field(default=None, max_length=16)
    created_at: datetime = _ts()
    # Editing a question (`TurnStore.edit`) stores its new version as a new question and
    # keeps what it replaced as an earlier version: the edited question and every message
    # after it get `replaced_by` = the new version's id, set once. Only messages without it
    # are the conversation's current branch (what the model, the listings and the page read).
    replaced_by: int | None = Field(default=None, sa_type=sa.BigInteger)
    # On a question's second and later versions: the id of its first version (the versions
    # of a question are its first and every message with this id, oldest first).
    edit_of_id: int | None = Field(default=None, sa_type=sa.BigInteger)
