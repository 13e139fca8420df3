"""stop requests: Stop pressed anywhere (another tab, the API) is kept on the running question
(`stop_attempt`: the attempt asked to stop), so the worker running it stops it at its next
lease renewal even if the live feed's fast notice never reached it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD / DROP COLUMN, not a batch that copies the table (the search triggers of 0008).
    op.add_column("messages", sa.Column("stop_attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "stop_attempt")
