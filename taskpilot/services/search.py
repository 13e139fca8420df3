"""Search: a person's conversations found by the words of their titles and messages (the
current branch of each: an edited question's earlier versions are not searched).

Each database searches with its own full-text index (migration 0008, `data/search_index.py`):
SQLite with FTS5, PostgreSQL with stored `to_tsvector` columns and GIN indexes. Both behave
alike:

- What the person types is read as words (runs of letters and digits), never as query syntax:
  quotes, `*`, `-`, `:`, `OR`, `NEAR` are punctuation or plain words, so no text is a syntax
  error. Each word is then quoted into the database's query language by this module alone.
- Every word must match, each as the start of a word ("fer" finds "ferns"), in one place: the
  title or one message. Results follow the typing. No stemming ("ran" does not find "run"):
  people write in many languages, which PostgreSQL's `english` stemmer and stop words would
  mangle (`simple` indexes words as written); prefixes cover plurals and most endings.
- Without accents: "zoe" finds "Zoë" and "Zoë" finds "zoe" (FTS5's `remove_diacritics`;
  on PostgreSQL, `unaccent` in the `taskpilot_words` configuration, migration 0011).
- Scoped to the person twice over: the index is asked only for their rows where it can be
  (FTS5 indexes `user_id`), and every match is joined back to its row and filtered on
  `user_id` whatever the index said.
- Conversations whose title matches come first, then those matched by a message; each group
  most recently active first. A conversation's snippet comes from its best matching message
  (FTS5's bm25, PostgreSQL's ts_rank; the newest of equals).

Snippets are cut and marked here, the same on both databases, as parts of plain text (never
markup from the database: a message could contain any marker characters), so a page shows
them as text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from taskpilot.data.models import Conversation, Message
from taskpilot.data.search_index import SEARCH_CONFIG
from taskpilot.services.public import ConversationOut

# What a person may ask for: a query's length (the API refuses longer), results at once.
MAX_QUERY_CHARS = 1000
MAX_RESULTS = 50
# At most this many words of a query are used (a longer query is narrowed by its first ones).
MAX_TERMS = 16
# A longer word is looked up by its first characters: no word people search for is longer.
MAX_TERM_CHARS = 64
# A snippet: about this many characters, starting a little before the first matched word.
SNIPPET_CHARS = 160
SNIPPET_LEAD = 40
ELLIPSIS = "…"


class TextPart(BaseModel):
    """A piece of text to show; `marked` pieces are words the search matched."""

    text: str
    marked: bool = False


class SearchHit(BaseModel):
    """A conversation that matched, with where it matched."""

    conversation: ConversationOut
    title: list[TextPart] = Field(description="The conversation's title, matched words marked.")
    message_id: int | None = Field(
        description="Its best matching message; null when only the title matched."
    )
    snippet: list[TextPart] = Field(
        description="Words around the match in that message, matched words marked; empty when "
        "only the title matched. Plain text: show it as text."
    )


# --- words ---------------------------------------------------------------------------------


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def _words(text: str) -> Iterator[tuple[int, int]]:
    """Where the words of `text` are: runs of letters, digits and combining marks that hold
    at least one letter or digit (a lone accent is no word)."""
    start = None
    for index, char in enumerate(f"{text} "):
        if _is_word_char(char):
            if start is None:
                start = index
        elif start is not None:
            if any(unicodedata.category(c)[0] in "LN" for c in text[start:index]):
                yield start, index
            start = None


def _fold(word: str) -> str:
    """A word as both indexes compare it: lower case, without diacritics."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def search_terms(query: str) -> list[str]:
    """The words of a query, as typed (NFC), without repeats, at most `MAX_TERMS`."""
    text = unicodedata.normalize("NFC", query)
    terms: dict[str, str] = {}
    for start, end in _words(text):
        word = text[start:end][:MAX_TERM_CHARS]
        terms.setdefault(_fold(word), word)
        if len(terms) == MAX_TERMS:
            break
    return list(terms.values())


# --- the queries ---------------------------------------------------------------------------


def _fts5_phrase(column: str, text: str, prefix: bool = False) -> str:
    """An FTS5 query term for `column`: `text` as one quoted phrase (quotes doubled)."""
    return f'{column} : "{text.replace(chr(34), chr(34) * 2)}"' + ("*" if prefix else "")


def _fts5_match(user_id: str, column: str, terms: list[str]) -> str:
    """The person's rows whose `column` has every term as a word's start."""
    words = [_fts5_phrase(column, term, prefix=True) for term in terms]
    return " AND ".join([_fts5_phrase("user_id", user_id), *words])


def _tsquery(terms: list[str]) -> str:
    """A `to_tsquery` text: every term quoted as a lexeme prefix. Terms hold letters, digits
    and marks only (`_words`), so no quote or backslash needs escaping; doubling quotes
    anyway keeps that true if the word rule changes."""
    return " & ".join("'" + term.replace("'", "''") + "':*" for term in terms)


# FTS5 drives each query (CROSS JOIN fixes SQLite's join order): left to choose, SQLite may
# walk the person's messages by `user_id` and ask the index about each one (measured: 1.6 s
# instead of 3 ms for a word in a quarter of 10,000 messages).
_SQLITE_MESSAGE_HITS = sa.text(
    "SELECT m.conversation_id AS conversation_id, m.id AS message_id,"
    " bm25(message_search, 0.0, 1.0) AS score"
    " FROM message_search CROSS JOIN messages AS m ON m.id = message_search.rowid"
    " WHERE message_search MATCH :match AND m.user_id = :user_id AND m.replaced_by IS NULL"
)
_SQLITE_TITLE_HITS = sa.text(
    "SELECT c.id AS id FROM conversation_search AS s"
    " CROSS JOIN conversations AS c ON c.id = s.conversation_id"
    " WHERE conversation_search MATCH :title_match AND c.user_id = :user_id"
)
# `search_vector`: each row's words as PostgreSQL indexes them (a generated column with a GIN
# index, migration 0008), looked up with the configuration they were indexed with (`:config`).
_POSTGRES_MESSAGE_HITS = sa.text(
    "SELECT conversation_id, id AS message_id,"
    " -ts_rank(search_vector, to_tsquery(CAST(:config AS regconfig), :tsquery)) AS score"
    " FROM messages WHERE user_id = :user_id AND replaced_by IS NULL"
    " AND search_vector @@ to_tsquery(CAST(:config AS regconfig), :tsquery)"
)
_POSTGRES_TITLE_HITS = sa.text(
    "SELECT id FROM conversations WHERE user_id = :user_id"
    " AND search_vector @@ to_tsquery(CAST(:config AS regconfig), :tsquery)"
)


class ConversationSearch:
    """Search one person's conversations."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """The person's conversations matching every word of `query` in their title or a
        message; title matches first, then by last activity. No words, no results."""
        terms = search_terms(query)
        if not terms:
            return []
        rows = (await self.session.execute(self._statement(terms, limit))).all()
        return [
            SearchHit(
                conversation=ConversationOut.of(conversation),
                title=marked_parts(conversation.title, terms),
                message_id=message_id,
                snippet=snippet(content, terms) if message_id is not None else [],
            )
            for conversation, message_id, content in rows
        ]

    def _statement(self, terms: list[str], limit: int) -> Select[Conversation, int | None, str]:
        if self.session.get_bind().dialect.name == "sqlite":
            message_hits = _SQLITE_MESSAGE_HITS.bindparams(
                user_id=self.user_id, match=_fts5_match(self.user_id, "content", terms)
            )
            title_hits = _SQLITE_TITLE_HITS.bindparams(
                user_id=self.user_id, title_match=_fts5_match(self.user_id, "title", terms)
            )
        else:
            words = {"config": SEARCH_CONFIG, "tsquery": _tsquery(terms)}
            message_hits = _POSTGRES_MESSAGE_HITS.bindparams(user_id=self.user_id, **words)
            title_hits = _POSTGRES_TITLE_HITS.bindparams(user_id=self.user_id, **words)
        hits = message_hits.columns(
            sa.column("conversation_id", sa.String),
            sa.column("message_id", sa.BigInteger),
            sa.column("score", sa.Float),
        ).subquery("hits")
        titled = title_hits.columns(sa.column("id", sa.String)).subquery("titled")
        # Each conversation's best message: the best score, then the newest.
        ranked = select(
            hits.c.conversation_id,
            hits.c.message_id,
            sa.func.row_number()
            .over(
                partition_by=hits.c.conversation_id,
                order_by=(hits.c.score.asc(), hits.c.message_id.desc()),
            )
            .label("place"),
        ).subquery("ranked")
        # The matched conversations drive the query (each found by its key), not the other
        # way round: joining every conversation of the person to the matches measured 85 ms
        # on SQLite for a word in a quarter of 10,000 messages.
        matched = sa.union_all(
            select(ranked.c.conversation_id, ranked.c.message_id).where(ranked.c.place == 1),
            select(titled.c.id, sa.null()).where(
                titled.c.id.not_in(select(hits.c.conversation_id))
            ),
        ).subquery("matched")
        title_matched = col(Conversation.id).in_(select(titled.c.id))
        return (
            select(Conversation, col(Message.id), col(Message.content))
            .select_from(matched)
            .join(Conversation, col(Conversation.id) == matched.c.conversation_id)
            .outerjoin(
                Message,
                sa.and_(
                    col(Message.id) == matched.c.message_id,
                    col(Message.user_id) == self.user_id,
                ),
            )
            .where(col(Conversation.user_id) == self.user_id)
            .order_by(
                sa.case((title_matched, 0), else_=1),
                col(Conversation.updated_at).desc(),
                col(Conversation.id).desc(),
            )
            .limit(max(1, min(limit, MAX_RESULTS)))
        )


# --- snippets ------------------------------------------------------------------------------


def _matched(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where in `text` the words are that start with one of the terms (as the indexes
    compare words)."""
    prefixes = tuple(_fold(term) for term in terms)
    return [(s, e) for s, e in _words(text) if _fold(text[s:e]).startswith(prefixes)]


def _parts(text: str, spans: list[tuple[int, int]], start: int, end: int) -> list[TextPart]:
    parts: list[TextPart] = []
    cursor = start
    for span_start, span_end in spans:
        if span_start < start or span_end > end:
            continue
        if span_start > cursor:
            parts.append(TextPart(text=text[cursor:span_start]))
        parts.append(TextPart(text=text[span_start:span_end], marked=True))
        cursor = span_end
    if cursor < end:
        parts.append(TextPart(text=text[cursor:end]))
    return parts


def marked_parts(text: str, terms: list[str]) -> list[TextPart]:
    """All of `text`, its matched words marked."""
    return _parts(text, _matched(text, terms), 0, len(text))


def snippet(text: str, terms: list[str]) -> list[TextPart]:
    """About `SNIPPET_CHARS` of `text` on one line, from a little before its first matched
    word, cut between words, matched words marked, "…" where it was cut."""
    flat = " ".join(text.split())
    spans = _matched(flat, terms)
    start = 0
    if spans and (lead := min(spans[0][0] - SNIPPET_LEAD, len(flat) - SNIPPET_CHARS)) > 0:
        start = flat.find(" ", lead, spans[0][0]) + 1 or spans[0][0]
    end = len(flat)
    if end - start > SNIPPET_CHARS:
        end = flat.rfind(" ", start, start + SNIPPET_CHARS)
        if end <= start or (spans and end < spans[0][1]):
            end = start + SNIPPET_CHARS
    parts = _parts(flat, spans, start, end)
    if start > 0:
        parts.insert(0, TextPart(text=ELLIPSIS))
    if end < len(flat):
        parts.append(TextPart(text=ELLIPSIS))
    return parts
