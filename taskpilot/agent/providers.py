"""Choosing the language model from settings: OpenAI, an OpenAI-compatible server, or the
built-in offline model (rule-based, no AI, the default)."""

from __future__ import annotations

from agents import set_tracing_disabled
from agents.models.interface import Model
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from openai import AsyncOpenAI

from taskpilot.core.config import ModelProvider, Settings


def build_model(settings: Settings) -> Model:
    """The model that answers turns under these settings."""
    set_tracing_disabled(not settings.openai_tracing)
    provider = settings.resolved_model_provider
    if provider is ModelProvider.OPENAI:
        if settings.openai_api_key is None:
            raise ValueError("MODEL_PROVIDER=openai needs OPENAI_API_KEY.")
        client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.model_timeout_seconds,
            max_retries=1,
        )
        return OpenAIResponsesModel(model=settings.model_name, openai_client=client)
    if provider is ModelProvider.OPENAI_COMPATIBLE:
        if not settings.model_base_url:
            raise ValueError("MODEL_PROVIDER=openai-compatible needs MODEL_BASE_URL.")
        key = settings.model_api_key.get_secret_value() if settings.model_api_key else "unused"
        client = AsyncOpenAI(
            api_key=key,
            base_url=settings.model_base_url,
            timeout=settings.model_timeout_seconds,
            max_retries=1,
        )
        return OpenAIChatCompletionsModel(model=settings.model_name, openai_client=client)
    from taskpilot.agent.offline import OfflineModel

    return OfflineModel(settings)


async def close_model(model: Model) -> None:
    """Release the model's connections, including the OpenAI client `build_model` made."""
    await model.close()
    client = getattr(model, "_client", None)
    if isinstance(client, AsyncOpenAI):
        await client.close()


def describe_model(settings: Settings) -> str:
    """A one-line, secret-free description of the model in use, for the UI and /api/info."""
    provider = settings.resolved_model_provider
    if provider is ModelProvider.OPENAI:
        return f"OpenAI {settings.model_name}"
    if provider is ModelProvider.OPENAI_COMPATIBLE:
        return f"{settings.model_name} (OpenAI-compatible server)"
    return "Offline model: rule-based, no AI. It understands plain task commands."
