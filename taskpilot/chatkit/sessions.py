"""Hosted ChatKit: sessions for an Agent Builder workflow, created with TaskPilot's API key.

The browser asks `POST /api/chatkit/sessions` for a client secret; the key and the workflow
id stay here. Errors say what happened without the upstream's text (it can quote the key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from openai import APIConnectionError, APIStatusError, AsyncOpenAI

from taskpilot.core.config import Settings

logger = logging.getLogger("taskpilot.chatkit")

SESSION_TIMEOUT_SECONDS = 15.0


class HostedSessionError(Exception):
    """No session; `status` is the HTTP status to answer with (503 unset, 502 upstream)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ClientSecret:
    """What the browser gets: a short-lived secret for one ChatKit session."""

    client_secret: str
    expires_at: int


class HostedSessions:
    """Creates ChatKit sessions at OpenAI for signed-in users (one client per process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: AsyncOpenAI | None = None

    @property
    def configured(self) -> bool:
        """Whether a workflow and an API key are set."""
        return bool(self.settings.chatkit_workflow_id and self.settings.openai_api_key)

    def _openai(self) -> AsyncOpenAI:
        if self._client is None:
            assert self.settings.openai_api_key is not None
            self._client = AsyncOpenAI(
                api_key=self.settings.openai_api_key.get_secret_value(),
                base_url=self.settings.openai_base_url,
                timeout=SESSION_TIMEOUT_SECONDS,
                max_retries=1,
            )
        return self._client

    async def create(self, user_id: str) -> ClientSecret:
        """A session of the configured workflow whose user is `user_id`."""
        if not self.configured:
            raise HostedSessionError(
                503,
                "Hosted ChatKit is not configured on this server "
                "(it needs CHATKIT_WORKFLOW_ID and OPENAI_API_KEY).",
            )
        workflow = str(self.settings.chatkit_workflow_id)
        try:
            session = await self._openai().beta.chatkit.sessions.create(
                user=user_id, workflow={"id": workflow}
            )
        except APIStatusError as exc:
            logger.warning("chatkit session refused", extra={"upstream_status": exc.status_code})
            raise HostedSessionError(
                502, f"OpenAI did not start a ChatKit session (HTTP {exc.status_code})."
            ) from exc
        except APIConnectionError as exc:
            logger.warning("chatkit session: OpenAI unreachable")
            raise HostedSessionError(
                502, "OpenAI could not be reached to start a ChatKit session."
            ) from exc
        return ClientSecret(client_secret=session.client_secret, expires_at=session.expires_at)

    async def close(self) -> None:
        """Close the OpenAI client, if one was made."""
        if self._client is not None:
            await self._client.close()
            self._client = None
