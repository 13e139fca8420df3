"""search without accents on PostgreSQL: words are indexed and looked up without their
diacritics ("zoe" finds "Zoë", "cafe" finds "Café"), as SQLite's FTS5 index already does
(`remove_diacritics 2`, migration 0008); before, PostgreSQL found only the accented spelling

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 00:00:00

A text search configuration of its own, `taskpilot_words` (named in
`taskpilot.data.search_index`): `simple` with the `unaccent` extension's dictionary first for
the word kinds that can hold letters beyond ASCII. The stored `search_vector` columns are made
again with it (a generated column's expression cannot be altered in place), and their GIN
indexes with them. Nothing changes on SQLite. The downgrade puts back the `simple` columns and
leaves the extension, which other schemas of the database may use.

Making the columns again rewrites `messages` and `conversations` under an exclusive lock, and
builds their GIN indexes, in the migration's transaction: on a large database, run it when
chat may pause for that long.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIG = "taskpilot_words"
_ACCENTED_KINDS = "word, numword, hword, hword_part, hword_numpart, numhword"
_COLUMNS = (("messages", "content"), ("conversations", "title"))


def _vectors(config: str) -> list[str]:
    statements = []
    for table, column in _COLUMNS:
        statements += [
            f"DROP INDEX ix_{table}_search",
            f"ALTER TABLE {table} DROP COLUMN search_vector",
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS"
            f" (to_tsvector('{config}'::regconfig, {column})) STORED",
            f"CREATE INDEX ix_{table}_search ON {table} USING gin (search_vector)",
        ]
    return statements


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    # The dictionary named with its schema: the extension may live in one that is not on
    # the search path (an admin made it there beforehand).
    schema = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n"
            " ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
        )
    ).scalar_one()
    unaccent = f'"{schema}".unaccent'
    for statement in [
        f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple)",
        f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR {_ACCENTED_KINDS}"
        f" WITH {unaccent}, simple",
        *_vectors(CONFIG),
    ]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for statement in [*_vectors("simple"), f"DROP TEXT SEARCH CONFIGURATION {CONFIG}"]:
        op.execute(statement)
