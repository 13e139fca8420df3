"""edits: a question can be edited; its new version is a new question (`edit_of_id` names
the first version) and what it replaced is kept as an earlier version (`replaced_by`)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD / DROP COLUMN (SQLite has both since 3.35), not a batch that copies the
    # table: a copy would drop the search triggers of 0008 with the old table.
    op.add_column("messages", sa.Column("replaced_by", sa.BigInteger(), nullable=True))
    op.add_column("messages", sa.Column("edit_of_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_messages_edit_of_id", "messages", ["edit_of_id"])


def downgrade() -> None:
    # Earlier versions have no place in a schema without edits: they go.
    op.execute(sa.text("DELETE FROM messages WHERE replaced_by IS NOT NULL"))
    op.drop_index("ix_messages_edit_of_id", table_name="messages")
    op.drop_column("messages", "edit_of_id")
    op.drop_column("messages", "replaced_by")
