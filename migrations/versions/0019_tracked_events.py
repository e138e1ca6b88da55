"""Each tracked event with its metadata, by user, newest first (`GET /events?type=user`). A
new projection, which the runner fills from position 0 as it does any projection behind.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tracked_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("metadata", JSONDoc, nullable=False),
    )
    op.create_index("tracked_events_user", "tracked_events", ["user_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("tracked_events_user", table_name="tracked_events")
    op.drop_table("tracked_events")
