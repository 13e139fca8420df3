"""turn claims: attempts, leases, one reply per message, one running turn per conversation

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 10:00:00

Existing data: a message left `pending` by the code before this one has no worker that will
finish it (every worker restarts to run this code), so it becomes `failed` with a reason the
person can read, and a retry runs it; so does a question left "answered" without a reply (an
older ChatKit retry did that). Where several replies answer one message (the race this
migration closes), the first is kept and the rest are removed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOST = "This message wasn't answered. Retry it, or send it again."
RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE messages SET status = 'failed', error = :reason "
            "WHERE role = 'user' AND status = 'pending'"
        ).bindparams(reason=LOST)
    )
    op.execute(
        "DELETE FROM messages WHERE reply_to_id IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM messages WHERE reply_to_id IS NOT NULL GROUP BY reply_to_id)"
    )
    # A ChatKit retry used to delete a reply and leave its question "answered": it is not.
    op.execute(
        sa.text(
            "UPDATE messages SET status = 'failed', error = :reason "
            "WHERE role = 'user' AND status = 'answered' AND NOT EXISTS "
            "(SELECT 1 FROM messages AS reply WHERE reply.reply_to_id = messages.id)"
        ).bindparams(reason=LOST)
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ux_messages_reply_to_id", "messages", ["reply_to_id"], unique=True)
    op.create_index(
        "ux_messages_running_turn",
        "messages",
        ["conversation_id"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ux_messages_running_turn", table_name="messages")
    op.drop_index("ux_messages_reply_to_id", table_name="messages")
    op.execute("UPDATE messages SET status = 'pending' WHERE status = 'running'")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("attempt")
