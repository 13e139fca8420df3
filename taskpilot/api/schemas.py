"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from taskpilot.data.models import ToolCall
from taskpilot.services.public import ConversationOut, MessageOut, TaskOut
from taskpilot.services.search import SearchHit
from taskpilot.services.text import LINE_BREAKS, unstorable
from taskpilot.services.users import MIN_PASSWORD


class ApiModel(BaseModel):
    """Bodies reject unknown fields so typos are reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class SignUpRequest(ApiModel):
    email: str = Field(
        max_length=320, examples=["ada@example.com"], json_schema_extra={"format": "email"}
    )
    # Documented here, enforced (with a readable message) by the account service.
    password: str = Field(max_length=256, json_schema_extra={"minLength": MIN_PASSWORD})
    display_name: str = Field(default="", max_length=120)


class SettingsRequest(ApiModel):
    timezone: str = Field(
        max_length=64,
        examples=["Europe/Paris"],
        description="Your IANA time zone: what 'today' and 'friday' mean in your messages.",
    )


class LogInRequest(ApiModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    timezone: str | None = Field(
        default=None, description="Your IANA time zone; unset: the server's TIMEZONE."
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    user: UserOut


# Documented as patterns, enforced by validators (whose 422s say what is wrong in words) and by
# the agent service: a message keeps tabs and line breaks but no other control character
# (`taskpilot.services.text`), and is not blank once trimmed.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
MESSAGE_PATTERN = rf"^[^{_CONTROL}]*[^\s\x00-\x1f\x7f-\x9f][^{_CONTROL}]*$"
CLIENT_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"


class ChatRequest(ApiModel):
    conversation_id: str | None = Field(default=None, max_length=64)
    message: str = Field(
        description="What the user typed: not blank, at most `max_message_chars` characters "
        "once trimmed (see `GET /api/info`), no control characters but tab and line breaks.",
        json_schema_extra={"pattern": MESSAGE_PATTERN},
    )
    client_message_id: str | None = Field(
        default=None,
        max_length=100,
        json_schema_extra={"pattern": CLIENT_ID_PATTERN},
        description="Your id for this message; a retry with the same id is not run twice.",
    )

    @field_validator("message")
    @classmethod
    def _storable_message(cls, value: str) -> str:
        if (char := unstorable(value, LINE_BREAKS)) is not None:
            raise ValueError(f"the message can't contain {char}")
        return value

    @field_validator("client_message_id")
    @classmethod
    def _storable_client_id(cls, value: str | None) -> str | None:
        if value is not None and unstorable(value) is not None:
            raise ValueError("use printable characters only")
        return value


class EditRequest(ApiModel):
    message: str = Field(
        description="The question's new text, as `/chat`'s `message` is checked.",
        json_schema_extra={"pattern": MESSAGE_PATTERN},
    )
    last_seen_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="The newest message of the conversation you have seen. An edit replaces"
        " everything after the question; with this, it is refused (409"
        " `conversation_moved_on`) when the conversation has gone on past it, so it never"
        " replaces messages you have not seen. Without it, whatever follows is replaced.",
    )

    @field_validator("message")
    @classmethod
    def _storable_message(cls, value: str) -> str:
        return ChatRequest._storable_message(value)


class PendingApproval(BaseModel):
    """A tool call the turn paused at, waiting for you: approve or decline it at `decide`."""

    message_id: int = Field(description="Your message whose turn is paused.")
    call_id: str
    name: str
    arguments: dict[str, Any]
    summary: str = Field(
        description="What approving does, in words.", examples=["Delete task 3 · Buy milk"]
    )
    decide: str = Field(
        description='Where to POST `{"approve": true|false}` to resume the turn.',
        examples=["/api/u1/conversations/c1/approvals/call_abc"],
    )


class ChatResponse(BaseModel):
    conversation_id: str
    response: str
    tool_calls: list[ToolCall]
    message_id: int | None = Field(
        description="The stored reply's id; null while `pending_approval` waits for you."
    )
    replayed: bool = False
    pending_approval: PendingApproval | None = Field(
        default=None,
        description="Set when the turn paused at a tool that waits for your approval (a"
        " delete); `response` is what was said before it. A new message declines it.",
    )


class ApprovalRequest(ApiModel):
    approve: bool = Field(description="true runs the waiting call; false declines it.")


class ConversationList(BaseModel):
    conversations: list[ConversationOut]


class RenameRequest(ApiModel):
    title: str = Field(max_length=200)


class SearchResults(BaseModel):
    results: list[SearchHit]


class MessageList(BaseModel):
    messages: list[MessageOut]


class VersionOut(BaseModel):
    """One version of an edited question and the branch it began: itself, then what
    followed it while it was current (for the current version, the conversation from it on)."""

    version: int
    current: bool
    messages: list[MessageOut]


class VersionList(BaseModel):
    versions: list[VersionOut]


class UndoOut(BaseModel):
    undone: bool = Field(description="The change is taken back (true: the task is as before).")
    already: bool = Field(
        description="It had been undone before this request (another tab, a double click)."
    )


class TaskList(BaseModel):
    tasks: list[TaskOut]
    count: int


class CalendarFeedOut(BaseModel):
    url: str = Field(
        description="Your private calendar feed (iCalendar): anyone with this URL can read your"
        " tasks with due dates, so share it only with your calendar app. Shown once; creating"
        " a feed again replaces it."
    )


class ErrorOut(BaseModel):
    detail: str
    code: str


class InfoOut(BaseModel):
    name: str
    model: str
    offline_model: bool
    max_message_chars: int


class HealthOut(BaseModel):
    """Whether this worker can serve turns: the database answers and it is not shutting down."""

    status: Literal["ok", "unavailable"]
    database: bool
    draining: bool = False


class LiveOut(BaseModel):
    """The process answers (liveness: restart it when this fails)."""

    status: Literal["ok"] = "ok"


class ChatKitSessionOut(BaseModel):
    """A hosted ChatKit session's client secret: all the browser needs, and all it gets."""

    client_secret: str
    expires_at: int = Field(description="Unix time (seconds) when the secret expires.")
