"""Conversations: whether the assignee has read what the user wrote, and running counts per
app, assignee, open and unread (`GET /counts?type=conversation`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from projections.conversations import admin_unread

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("assignee_unread", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # Existing rows, as the projection would have kept them.
    table = sa.table(
        "conversations",
        sa.column("id", sa.String),
        sa.column("assignee_id", sa.String),
        sa.column("user_started", sa.Boolean),
        sa.column("user_wrote", sa.Integer),
        sa.column("admins_read", sa.JSON),
        sa.column("assignee_unread", sa.Boolean),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(table).where(table.c.assignee_id.is_not(None))).mappings()
    unread = [r["id"] for r in rows if admin_unread(dict(r), r["assignee_id"])]
    for start in range(0, len(unread), 500):
        chunk = unread[start : start + 500]
        conn.execute(sa.update(table).where(table.c.id.in_(chunk)).values(assignee_unread=True))
    op.create_table(
        "conversation_counts",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("assignee_id", sa.String(64), primary_key=True),
        sa.Column("open", sa.Boolean, primary_key=True),
        sa.Column("unread", sa.Boolean, primary_key=True),
        sa.Column("conversations", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO conversation_counts (app_id, assignee_id, open, unread, conversations) "
        "SELECT app_id, COALESCE(assignee_id, ''), open, assignee_unread, COUNT(*) "
        "FROM conversations GROUP BY app_id, COALESCE(assignee_id, ''), open, assignee_unread"
    )


def downgrade() -> None:
    op.drop_table("conversation_counts")
    op.drop_column("conversations", "assignee_unread")
