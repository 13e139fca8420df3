"""The full-text search index: database objects that are not models.

Search (`taskpilot/services/search.py`) uses each database's own text search, whose objects
SQLModel cannot describe: on SQLite, FTS5 virtual tables (and the shadow tables FTS5 keeps
for them) filled by triggers; on PostgreSQL, generated `tsvector` columns (`search_vector`, which
the rows' models leave out: the database computes them) and their GIN indexes. Migration 0008
creates them; 0011 indexes PostgreSQL's words without their accents, as FTS5's are. Comparing
the models with the migrated schema leaves exactly these out (`alembic/env.py`,
`tests/data/test_migrations.py`), so autogenerate never proposes to drop them and every other
difference is still reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# SQLite: the FTS5 tables; FTS5 keeps each one's index in shadow tables named after it.
MESSAGE_SEARCH = "message_search"
CONVERSATION_SEARCH = "conversation_search"
_FTS5_SHADOWS = ("data", "idx", "docsize", "config", "content")
SEARCH_TABLES = frozenset(
    name
    for table in (MESSAGE_SEARCH, CONVERSATION_SEARCH)
    for name in (table, *(f"{table}_{shadow}" for shadow in _FTS5_SHADOWS))
)
# PostgreSQL: the text search configuration words are indexed and looked up with (`simple`,
# without diacritics: migration 0011), the generated columns and their indexes.
SEARCH_CONFIG = "taskpilot_words"
SEARCH_COLUMN = "search_vector"
SEARCH_COLUMN_TABLES = frozenset({"messages", "conversations"})
SEARCH_INDEXES = frozenset({"ix_messages_search", "ix_conversations_search"})


def compared_with_models(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Alembic's `include_name`: whether a reflected object is compared with the models (all
    but the search objects)."""
    if type_ == "table":
        return name not in SEARCH_TABLES
    if type_ == "index":
        return name not in SEARCH_INDEXES
    if type_ == "column":
        return not (
            name == SEARCH_COLUMN and parent_names.get("table_name") in SEARCH_COLUMN_TABLES
        )
    return True
