"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    """Bodies reject unknown fields so typos are reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class SignUpRequest(ApiModel):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(max_length=256)
    display_name: str = Field(default="", max_length=120)


class LogInRequest(ApiModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    user: UserOut


class ChatRequest(ApiModel):
    conversation_id: str | None = Field(default=None, max_length=64)
    message: str = Field(description="What the user typed.")
    client_message_id: str | None = Field(
        default=None,
        max_length=100,
        description="Your id for this message; a retry with the same id is not run twice.",
    )


class ToolCallOut(BaseModel):
    name: str
    arguments: dict[str, Any]
    result: Any
    is_error: bool = False


class ChatResponse(BaseModel):
    conversation_id: str
    response: str
    tool_calls: list[ToolCallOut]
    message_id: int
    replayed: bool = False


class ConversationOut(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str


class ConversationList(BaseModel):
    conversations: list[ConversationOut]


class RenameRequest(ApiModel):
    title: str = Field(max_length=200)


class MessageOut(BaseModel):
    id: int
    conversation_id: str
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCallOut]
    status: str
    error: str | None
    feedback: Literal["positive", "negative"] | None = Field(
        default=None, description="The rating given to an assistant reply (ChatKit)."
    )
    client_message_id: str | None
    created_at: str


class MessageList(BaseModel):
    messages: list[MessageOut]


class TaskOut(BaseModel):
    task_id: int
    title: str
    description: str
    completed: bool
    priority: Literal["low", "medium", "high"]
    due_date: str | None
    tags: list[str]
    created_at: str | None
    updated_at: str | None
    completed_at: str | None


class TaskList(BaseModel):
    tasks: list[TaskOut]
    count: int


class ErrorOut(BaseModel):
    detail: str
    code: str


class InfoOut(BaseModel):
    name: str
    model: str
    offline_model: bool
    max_message_chars: int


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    database: bool


class ChatKitSessionOut(BaseModel):
    """A hosted ChatKit session's client secret: all the browser needs, and all it gets."""

    client_secret: str
    expires_at: int = Field(description="Unix time (seconds) when the secret expires.")
