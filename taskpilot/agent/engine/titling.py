"""A conversation's title, decided once its first turn is answered, the same for every entry
point (the chat page's sidebar, ChatKit's thread list, the API's conversations).

With the offline model a rule names it from what the turn did: the task the first tool call
added or changed ("Buy milk"), "Your tasks" for a listing, else the question, trimmed. With a
real model, one short extra call (a strict prompt, a few output tokens, a timeout) names it
from the first message; it is asked alongside the turn, so by the reply it is usually there,
and the turn waits for it at most `TITLE_WAIT_SECONDS` (holding nothing longer: not the
person's turn slot, not the stream). The rule stands in on any failure or delay. The title is
stored with one conditional UPDATE that leaves alone a conversation the person has renamed.
"""

from __future__ import annotations

import asyncio
import logging

from agents import ItemHelpers, ModelSettings
from agents.models.interface import Model, ModelTracing

from taskpilot.agent.engine.turn import PreparedTurn
from taskpilot.core.config import ModelProvider, Settings
from taskpilot.core.db import Database
from taskpilot.data.models import NEW_CHAT_TITLE, ToolCall
from taskpilot.mcp.tools import ToolName
from taskpilot.services.conversations import ConversationStore, title_from_message

logger = logging.getLogger("taskpilot.agent")

LISTING_TITLE = "Your tasks"
# The title call: it names a conversation, so it may be brief; OpenAI's Responses API asks
# for at least 16 output tokens.
TITLE_MAX_TOKENS = 20
TITLE_SECONDS = 5.0
# How long a finished turn still waits for a title asked alongside it.
TITLE_WAIT_SECONDS = 0.5
TITLE_INSTRUCTIONS = (
    "You name conversations in a to-do list app. Given a person's first message, answer with "
    "a title of at most six words that says what the conversation is about. Answer with the "
    "title only: no quotes, no final punctuation, no emoji, no explanation. Write it in the "
    "language of the person's message."
)
# Words a model sometimes puts before a title despite the instructions.
_PREFIXES = ("title:", "conversation title:")


def rule_title(question: str, calls: list[ToolCall]) -> str:
    """The offline title: the task the first successful tool call added or changed, "Your
    tasks" for a listing, else the question, trimmed."""
    for call in calls:
        if call.is_error or not isinstance(call.result, dict):
            continue
        if call.name == ToolName.LIST_TASKS:
            return LISTING_TITLE
        title = call.result.get("title")
        if isinstance(title, str) and title.strip():
            return title_from_message(title)
    return title_from_message(question)


def model_title_text(text: str | None) -> str:
    """A model's answer as a title: its first line, without quotes, a "Title:" prefix or a
    final full stop, trimmed to a title's length ("" when nothing is left)."""
    line = next((part for part in (text or "").splitlines() if part.strip()), "")
    line = line.strip().strip("\"'`*“”‘’ ").strip()
    for prefix in _PREFIXES:
        if line.lower().startswith(prefix):
            line = line[len(prefix) :].strip().strip("\"'`*“”‘’ ")
    line = line.rstrip(".!;:,")
    return title_from_message(line) if line else ""


class Titler:
    """Chooses and stores a conversation's title after its first answered turn."""

    def __init__(self, settings: Settings, db: Database, model: Model) -> None:
        self.settings = settings
        self.db = db
        self.model = model
        self.offline = settings.resolved_model_provider is ModelProvider.OFFLINE
        store = False if settings.resolved_model_provider is ModelProvider.OPENAI else None
        self.model_settings = ModelSettings(max_tokens=TITLE_MAX_TOKENS, store=store)

    @staticmethod
    def _automatic(turn: PreparedTurn) -> set[str] | None:
        """The titles the turn's conversation may replace, or None when it keeps its title
        (not its first exchange, or renamed before the turn ran)."""
        if turn.history or turn.replay is not None:
            return None
        automatic = {NEW_CHAT_TITLE, title_from_message(turn.question)}
        return automatic if turn.title in automatic else None

    def ask(self, turn: PreparedTurn) -> asyncio.Task[str] | None:
        """With a real model, start asking for the title of a conversation's first exchange,
        to run alongside the turn; None when there is nothing to ask."""
        if self.offline or self._automatic(turn) is None:
            return None
        return asyncio.create_task(self._ask_model(turn.question), name="turn-title")

    async def title(
        self, turn: PreparedTurn, calls: list[ToolCall], asked: asyncio.Task[str] | None
    ) -> str | None:
        """The title stored for the turn's conversation, or None when it keeps its title (it
        is not the conversation's first exchange, the title would not change, the person
        renamed it, or the database could not take it)."""
        automatic = self._automatic(turn)
        if automatic is None:
            return None
        chosen = rule_title(turn.question, calls)
        if asked is not None:
            try:
                async with asyncio.timeout(TITLE_WAIT_SECONDS):
                    chosen = await asyncio.shield(asked) or chosen
            except TimeoutError:
                logger.info("title not ready with the reply; the rule names the conversation")
        if chosen == turn.title:
            return None
        try:
            async with self.db.session() as session:
                store = ConversationStore(session, turn.user_id)
                changed = await store.retitle(turn.conversation_id, chosen, automatic)
        except Exception:  # the reply is stored; the conversation keeps the title it has
            logger.warning("could not store a conversation's title", exc_info=True)
            return None
        return chosen if changed else None

    async def _ask_model(self, question: str) -> str:
        """The model's title for a first message; "" on any failure or timeout."""
        exchange = f"Message: {question}"
        try:
            async with asyncio.timeout(TITLE_SECONDS):
                response = await self.model.get_response(
                    system_instructions=TITLE_INSTRUCTIONS,
                    input=[{"role": "user", "content": exchange}],
                    model_settings=self.model_settings,
                    tools=[],
                    output_schema=None,
                    handoffs=[],
                    tracing=ModelTracing.DISABLED,
                    previous_response_id=None,
                    conversation_id=None,
                    prompt=None,
                )
        except Exception as exc:  # a title is a nicety: the rule names the conversation
            logger.warning("title call failed", extra={"error": type(exc).__name__})
            return ""
        texts = [ItemHelpers.extract_last_text(item) for item in response.output]
        return model_title_text(next((text for text in texts if text), ""))
