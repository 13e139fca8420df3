"""calendar feeds: a person's private iCalendar feed of their tasks, found by the selector in
its secret URL, with only a hash of the rest of the secret kept

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("selector", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("verifier_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("selector"),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
