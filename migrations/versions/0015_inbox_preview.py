"""The dashboard's inbox: each conversation's latest words and who wrote them, and whether it
waits for the user's first answer to a teammate's message (out of the inbox until then;
the counts keep it apart). They come from
the events, so the conversations projection is replayed from position 0 (its tables emptied
and its position reset; the runner rebuilds them as it does any projection behind).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("preview", sa.String(160)))
    op.add_column("conversations", sa.Column("preview_by", sa.String(8)))
    op.add_column(
        "conversations",
        sa.Column("waiting", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute("DELETE FROM conversations")
    op.drop_table("conversation_counts")  # its key gains `waiting`
    op.create_table(
        "conversation_counts",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("assignee_id", sa.String(64), primary_key=True),
        sa.Column("open", sa.Boolean, primary_key=True),
        sa.Column("unread", sa.Boolean, primary_key=True),
        sa.Column("waiting", sa.Boolean, primary_key=True, server_default=sa.false()),
        sa.Column("conversations", sa.Integer, nullable=False),
    )
    op.execute("UPDATE projection_positions SET position = 0 WHERE name = 'conversations'")


def downgrade() -> None:
    op.drop_column("conversations", "waiting")
    op.drop_column("conversations", "preview_by")
    op.drop_column("conversations", "preview")
