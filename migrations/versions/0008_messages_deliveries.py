"""Messages and their email deliveries, as the sweep and teammates read them; message stats
count opens, clicks and unsubscribes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("bulk", sa.Boolean, nullable=False),
        sa.Column("recipient", sa.String(32)),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("stop_at", Seconds),
        sa.Column("stopped_at", Seconds),
        sa.Column("dispatched_at", Seconds),
    )
    op.create_index("messages_app_created", "messages", ["app_id", "created_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", Seconds, nullable=False),
    )
    op.create_index("deliveries_message_user", "deliveries", ["message_id", "user_id"])
    op.create_index("deliveries_state", "deliveries", ["state", "updated_at"])
    for column in ("opened", "clicked", "unsubscribed"):
        op.add_column(
            "message_stats",
            sa.Column(column, sa.Integer, nullable=False, server_default="0"),
        )


def downgrade() -> None:
    for column in ("opened", "clicked", "unsubscribed"):
        op.drop_column("message_stats", column)
    op.drop_table("deliveries")
    op.drop_table("messages")
