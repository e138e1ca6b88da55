"""Tracked events per user and name: how often, first and last time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_events",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_at", Seconds, nullable=False),
        sa.Column("last_at", Seconds, nullable=False),
    )
    op.create_index("user_events_app_name", "user_events", ["app_id", "name", "count"])


def downgrade() -> None:
    op.drop_table("user_events")
