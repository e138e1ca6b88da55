"""Conversations, as the inbox views list and count them; replies in message stats.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(32)),
        sa.Column("user_started", sa.Boolean, nullable=False),
        sa.Column("assignee_id", sa.String(64)),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("updated_at", Seconds, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("user_wrote", sa.Integer, nullable=False),
        sa.Column("user_unread", sa.Boolean, nullable=False),
        sa.Column("admins_read", JSONDoc, nullable=False),
    )
    op.create_index(
        "conversations_app_open", "conversations", ["app_id", "open", "updated_at", "id"]
    )
    op.create_index(
        "conversations_app_assignee",
        "conversations",
        ["app_id", "assignee_id", "open", "updated_at", "id"],
    )
    op.create_index("conversations_user", "conversations", ["user_id", "updated_at", "id"])
    op.add_column(
        "message_stats", sa.Column("replied", sa.Integer, nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("message_stats", "replied")
    op.drop_table("conversations")
