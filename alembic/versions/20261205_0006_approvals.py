"""approvals: a turn may pause at a tool that waits for the person (`awaiting`), its paused
run stored with the question; a paused turn holds its conversation as a running one does

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")
HOLDING = sa.text("status IN ('running', 'awaiting')")
DECLINED = "This message's change was waiting for approval when the database was downgraded."


def _index(where: sa.TextClause) -> None:
    op.create_index(
        "ux_messages_running_turn",
        "messages",
        ["conversation_id"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("paused_run", sa.JSON(), nullable=True))
    op.drop_index("ux_messages_running_turn", table_name="messages")
    _index(HOLDING)


def downgrade() -> None:
    op.drop_index("ux_messages_running_turn", table_name="messages")
    op.execute(
        sa.text(
            "UPDATE messages SET status = 'failed', error = :reason WHERE status = 'awaiting'"
        ).bindparams(reason=DECLINED)
    )
    _index(RUNNING)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("paused_run")
