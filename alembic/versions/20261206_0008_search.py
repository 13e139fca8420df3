"""search: the words of conversation titles and messages, indexed by the database's own
full-text search (SQLite FTS5 tables kept by triggers; PostgreSQL generated tsvector columns
with GIN indexes);
existing rows are indexed here

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 00:00:00

The objects are named in `taskpilot.data.search_index`, which says why they are not models.
On SQLite, a later migration that rebuilds `messages` or `conversations` (a batch ALTER that
copies the table) drops their triggers with the old table: it must create them again
(`tests/data/test_migrations.py` checks that search works at the head).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unicode61: words are runs of letters and digits, folded to lower case and without
# diacritics ("Café" is found by "cafe"); prefix indexes keep as-you-type queries of two and
# three letters from walking the whole term list.
_TOKENS = "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'"

SQLITE_UP = [
    # Messages: external content (the text stays in `messages` only); rowid = messages.id.
    # `user_id` is indexed too, so a query is narrowed to one person inside the index (the
    # service still joins each match back to `messages` and filters on `user_id`).
    "CREATE VIRTUAL TABLE message_search USING fts5("
    f"user_id, content, content = 'messages', content_rowid = 'id', {_TOKENS})",
    "CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN"
    " INSERT INTO message_search (rowid, user_id, content)"
    " VALUES (new.id, new.user_id, new.content); END",
    "CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN"
    " INSERT INTO message_search (message_search, rowid, user_id, content)"
    " VALUES ('delete', old.id, old.user_id, old.content); END",
    # Only when the words change: a running turn's heartbeat updates its row every few seconds.
    "CREATE TRIGGER message_search_update AFTER UPDATE OF user_id, content ON messages BEGIN"
    " INSERT INTO message_search (message_search, rowid, user_id, content)"
    " VALUES ('delete', old.id, old.user_id, old.content);"
    " INSERT INTO message_search (rowid, user_id, content)"
    " VALUES (new.id, new.user_id, new.content); END",
    "INSERT INTO message_search (message_search) VALUES ('rebuild')",
    # Titles: a table of its own content, found by conversation id. (External content would
    # need a stable integer key, and a conversation's rowid is not one: VACUUM may renumber it.)
    "CREATE VIRTUAL TABLE conversation_search USING fts5("
    f"user_id, title, conversation_id UNINDEXED, {_TOKENS})",
    "CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversations BEGIN"
    " INSERT INTO conversation_search (user_id, title, conversation_id)"
    " VALUES (new.user_id, new.title, new.id); END",
    "CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversations BEGIN"
    " DELETE FROM conversation_search WHERE conversation_id = old.id; END",
    "CREATE TRIGGER conversation_search_update AFTER UPDATE OF user_id, title ON conversations"
    " BEGIN DELETE FROM conversation_search WHERE conversation_id = old.id;"
    " INSERT INTO conversation_search (user_id, title, conversation_id)"
    " VALUES (new.user_id, new.title, new.id); END",
    "INSERT INTO conversation_search (user_id, title, conversation_id)"
    " SELECT user_id, title, id FROM conversations",
]
SQLITE_DOWN = [
    "DROP TRIGGER conversation_search_update",
    "DROP TRIGGER conversation_search_delete",
    "DROP TRIGGER conversation_search_insert",
    "DROP TABLE conversation_search",
    "DROP TRIGGER message_search_update",
    "DROP TRIGGER message_search_delete",
    "DROP TRIGGER message_search_insert",
    "DROP TABLE message_search",
]

# The `simple` configuration: lower-cased words, no stemming and no stop words, so text in any
# language is indexed as written, and both databases find the same things. The vectors are
# stored (generated columns): checking a match or ranking it then reads the vector instead of
# parsing the text again, which an expression index alone leaves to every query (measured in
# bench/SEARCH.md: a word in a quarter of 10,000 messages took ~150 ms that way, ~20 ms so).
_VECTOR = "tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, {})) STORED"
POSTGRES_UP = [
    f"ALTER TABLE messages ADD COLUMN search_vector {_VECTOR.format('content')}",
    "CREATE INDEX ix_messages_search ON messages USING gin (search_vector)",
    f"ALTER TABLE conversations ADD COLUMN search_vector {_VECTOR.format('title')}",
    "CREATE INDEX ix_conversations_search ON conversations USING gin (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX ix_conversations_search",
    "ALTER TABLE conversations DROP COLUMN search_vector",
    "DROP INDEX ix_messages_search",
    "ALTER TABLE messages DROP COLUMN search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _run(SQLITE_UP if sqlite else POSTGRES_UP)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _run(SQLITE_DOWN if sqlite else POSTGRES_DOWN)
