"""TaskPilot's one settings object, read from the environment and `.env` once.

Every knob lives here; the README's configuration table documents each field.
Import `get_settings()` rather than reading `os.environ` anywhere else.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ChatKitMode(StrEnum):
    """Where the /chatkit page's ChatKit component gets its answers."""

    SELF_HOSTED = "self-hosted"  # TaskPilot's own ChatKit server: same agent, tools, database
    HOSTED = "hosted"  # an Agent Builder workflow at OpenAI, through a session's client secret


class ModelProvider(StrEnum):
    """Which language model answers a turn."""

    OFFLINE = "offline"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"


def _split_csv(value: object) -> object:
    """Accept `a,b,c` from the environment as well as a JSON list."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            import json

            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Runtime configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- data -------------------------------------------------------------------------------
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'taskpilot.db'}",
        description="SQLAlchemy URL. SQLite file by default; postgresql+psycopg://… for Neon.",
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per worker.")
    db_max_overflow: int = Field(default=20, ge=0, description="Extra connections under load.")
    db_pool_timeout: float = Field(
        default=10, gt=0, description="Seconds to wait for a free connection before a 503."
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone for 'today', 'tomorrow', 'friday' for people who have not"
        " set their own (users.timezone).",
    )
    history_turns: int = Field(
        default=10, ge=1, le=200, description="Turns of a conversation the agent sees."
    )

    # --- a turn's life ----------------------------------------------------------------------
    require_approval: bool = Field(
        default=True,
        description="Whether a tool call that destroys (delete_task) waits for the person to"
        " approve it; off, the agent deletes at once.",
    )
    turn_lease_seconds: float = Field(
        default=20,
        ge=2,
        le=30,
        description="A running turn renews its lease every third of this; a turn whose lease"
        " ran out (its worker died) is known dead and may be retried at once.",
    )
    turn_deadline_seconds: float = Field(
        default=120,
        ge=5,
        description="The longest a turn may run before it fails with a readable reason (under"
        " MCP_TOKEN_SECONDS).",
    )
    turn_wait_seconds: float = Field(
        default=5,
        ge=0,
        description="How long a message waits for the turn running in its conversation before"
        " a 409.",
    )
    shutdown_grace_seconds: float = Field(
        default=20,
        ge=0,
        description="On shutdown (SIGTERM), how long running turns may finish before they are"
        " stopped and marked failed.",
    )

    # --- model ------------------------------------------------------------------------------
    model_provider: ModelProvider | None = Field(
        default=None,
        description="offline | openai | openai-compatible. Unset: openai when OPENAI_API_KEY is"
        " set, openai-compatible when MODEL_BASE_URL is set, else offline.",
    )
    openai_api_key: SecretStr | None = Field(default=None, description="Key for OpenAI.")
    openai_base_url: str | None = Field(
        default=None, description="Override the OpenAI API base URL (proxies, tests)."
    )
    model_name: str = Field(default="gpt-4.1-mini", description="Model name for OpenAI/compatible.")
    model_base_url: str | None = Field(
        default=None, description="Chat-completions server (Ollama, vLLM, LM Studio) base URL."
    )
    model_api_key: SecretStr | None = Field(
        default=None, description="Key for the OpenAI-compatible server, if it needs one."
    )
    model_timeout_seconds: float = Field(default=60, gt=0, description="Per model call.")
    openai_tracing: bool = Field(
        default=False, description="Send Agents SDK traces to OpenAI (off unless asked)."
    )

    # --- identity ---------------------------------------------------------------------------
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Signs TaskPilot's access and MCP tokens. Unset: a random secret kept in"
        " .taskpilot/secret_key (fine for one machine; set it for several workers).",
    )
    access_token_minutes: int = Field(default=60 * 24, ge=1, description="Login token lifetime.")
    mcp_token_seconds: int = Field(
        default=300, ge=10, description="Lifetime of the per-turn MCP token."
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, description="Argon2id passes per password hash (argon2-cffi's default)."
    )
    password_hash_memory_kib: int = Field(
        default=64 * 1024,
        ge=32,
        description="Argon2id memory per password hash, in KiB (argon2-cffi's default). The"
        " tests lower both, as hashes record their own parameters; never lower them in"
        " production.",
    )
    better_auth_secret: SecretStr | None = Field(
        default=None, description="Better Auth JWT shared secret (HS256), to accept its tokens."
    )
    better_auth_jwks_url: str | None = Field(
        default=None, description="Better Auth JWKS URL (e.g. https://app/api/auth/jwks)."
    )
    better_auth_issuer: str | None = Field(default=None, description="Expected `iss` of those.")
    better_auth_audience: str | None = Field(default=None, description="Expected `aud` of those.")

    # --- HTTP -------------------------------------------------------------------------------
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://localhost:8000",
            "http://127.0.0.1:8000",
        ],
        description="Browser origins allowed to call the API (comma-separated).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "localhost",
            "localhost:*",
            "127.0.0.1",
            "127.0.0.1:*",
            "[::1]",
            "[::1]:*",
        ],
        description="Host headers the MCP endpoint accepts (DNS-rebinding protection).",
    )
    mcp_url: str | None = Field(
        default=None,
        description="Reach the MCP server over this URL instead of in-process (e.g. a separate"
        " MCP deployment).",
    )
    max_message_chars: int = Field(default=4000, ge=1, description="Longest chat message.")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body.")
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        description="Strict-Transport-Security max-age to send (0: none; set it behind HTTPS).",
    )

    # --- limits and workers -----------------------------------------------------------------
    reflex_redis_url: str | None = Field(
        default=None,
        description="Redis for Reflex's page state, the shared rate limits and the live feed"
        " between a person's tabs (several workers need it). Unset: all live in the process.",
    )
    chat_turns_per_minute: int = Field(
        default=30, ge=0, description="Chat turns one user may start per minute (0: no limit)."
    )
    requests_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests that are not turns (listings, history, ChatKit's reads) one user"
        " may make per minute (0: no limit).",
    )
    calendar_feed_fetches_per_minute: int = Field(
        default=120,
        ge=0,
        description="Calendar feed fetches one client address group may make per minute,"
        " whatever the feed (0: no limit). Calendar services fetch from their own servers, so"
        " one address carries many people's feeds: high for a person, low for a scan.",
    )
    max_concurrent_turns: int = Field(
        default=3, ge=0, description="Turns one user may have running at once (0: no limit)."
    )
    sign_in_attempts: int = Field(
        default=10,
        ge=0,
        description="Sign-in and sign-up attempts per email from one client address in"
        " SIGN_IN_WINDOW_SECONDS; one address may make 5x as many over all emails (0: no"
        " limit).",
    )
    sign_in_window_seconds: int = Field(default=300, ge=1, description="See SIGN_IN_ATTEMPTS.")
    worker_max_turns: int = Field(
        default=32,
        ge=1,
        description="Turns one worker runs at once; more wait for a place (admission control).",
    )
    worker_queue_seconds: float = Field(
        default=60,
        ge=0,
        description="The longest a turn waits for a place in a full worker: waiting turns go"
        " in arrival order, and one whose wait (estimated from how fast this worker finishes"
        " turns) would be longer gets a 503 with Retry-After at once.",
    )
    trusted_proxies: int = Field(
        default=0,
        ge=0,
        description="Reverse proxies in front of the workers; the client address is read from"
        " X-Forwarded-For that many hops back (0: the socket's peer).",
    )

    # --- logs -------------------------------------------------------------------------------
    log_level: str = Field(default="INFO", description="TaskPilot's log level.")
    log_format: str = Field(
        default="json", pattern="^(json|text)$", description="json (one object a line) | text."
    )

    # --- metrics ----------------------------------------------------------------------------
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a Prometheus scrape of GET /metrics must send (16+"
        " characters). Unset: /metrics answers 404.",
    )

    # --- ChatKit ----------------------------------------------------------------------------
    chatkit_mode: ChatKitMode | None = Field(
        default=None,
        description="self-hosted | hosted. Unset: hosted when CHATKIT_WORKFLOW_ID is set,"
        " else self-hosted.",
    )
    chatkit_workflow_id: str | None = Field(
        default=None, description="Agent Builder workflow id (wf_…) for hosted mode."
    )
    chatkit_domain_key: str = Field(
        default="domain_pk_localhost_dev",
        description="ChatKit domain key from OpenAI's domain allowlist (any value on localhost).",
    )
    chatkit_script_url: str = Field(
        default="https://cdn.platform.openai.com/deployments/chatkit/chatkit.js",
        description="Where the browser loads ChatKit's web component from.",
    )
    chatkit_locale: str | None = Field(
        default=None, description="ChatKit's UI language (e.g. de-DE). Unset: the browser's."
    )

    @field_validator("allowed_origins", "allowed_hosts", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _deadline_within_token(self) -> Settings:
        # A turn's MCP token must outlive the turn, or its last tool calls would be refused.
        if self.turn_deadline_seconds >= self.mcp_token_seconds:
            raise ValueError(
                f"TURN_DEADLINE_SECONDS ({self.turn_deadline_seconds:g}) must be shorter than"
                f" MCP_TOKEN_SECONDS ({self.mcp_token_seconds})."
            )
        return self

    @model_validator(mode="after")
    def _jwks_needs_audience(self) -> Settings:
        # Every application that trusts the same Better Auth deployment can be given tokens
        # signed with its JWKS keys; only the audience tells TaskPilot's apart.
        if self.better_auth_jwks_url and not self.better_auth_audience:
            raise ValueError(
                "BETTER_AUTH_AUDIENCE must be set with BETTER_AUTH_JWKS_URL: without it, a"
                " token Better Auth issued for any other application would be accepted here."
            )
        if self.better_auth_jwks_url and not self.better_auth_jwks_url.startswith(
            ("https://", "http://")
        ):
            raise ValueError(
                f"BETTER_AUTH_JWKS_URL must be an http(s) URL, not {self.better_auth_jwks_url!r}."
            )
        return self

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "METRICS_TOKEN must be at least 16 characters (try `openssl rand -hex 32`)."
            )
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "JWT_SECRET must be at least 32 characters (try `openssl rand -hex 32`)."
            )
        return value

    @property
    def resolved_model_provider(self) -> ModelProvider:
        """The provider in use, after applying the documented defaults."""
        if self.model_provider is not None:
            return self.model_provider
        if self.openai_api_key is not None:
            return ModelProvider.OPENAI
        if self.model_base_url:
            return ModelProvider.OPENAI_COMPATIBLE
        return ModelProvider.OFFLINE

    @property
    def resolved_chatkit_mode(self) -> ChatKitMode:
        """The ChatKit mode in use, after applying the documented default."""
        if self.chatkit_mode is not None:
            return self.chatkit_mode
        return ChatKitMode.HOSTED if self.chatkit_workflow_id else ChatKitMode.SELF_HOSTED

    @property
    def signing_secret(self) -> str:
        """The JWT signing secret, creating a local one on first use when none is set."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return _local_secret()


@lru_cache(maxsize=1)
def _local_secret() -> str:
    path = PROJECT_ROOT / ".taskpilot" / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
