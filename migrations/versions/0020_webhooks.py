"""Webhooks: the outbox's subscriptions (as the log has them so far) and its deliveries, one
row per notification and subscription, with their attempts (workers/webhooks.py). Not a read
model: it is never rebuilt.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("topics", JSONDoc, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("lease_until", Seconds),
    )
    op.create_index("webhook_subscriptions_app", "webhook_subscriptions", ["app_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("subscription_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("item", JSONDoc, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_sent_at", Seconds),
        sa.Column("last_attempt_at", Seconds),
        sa.Column("next_attempt_at", Seconds),
        sa.Column("delivered_at", Seconds),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
    )
    op.create_index(
        "webhook_deliveries_due", "webhook_deliveries", ["subscription_id", "state", "seq"]
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
