"""The dashboard's inbox: each conversation's latest words and who wrote them. They come from
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
    op.execute("DELETE FROM conversations")
    op.execute("DELETE FROM conversation_counts")
    op.execute("UPDATE projection_positions SET position = 0 WHERE name = 'conversations'")


def downgrade() -> None:
    op.drop_column("conversations", "preview_by")
    op.drop_column("conversations", "preview")
