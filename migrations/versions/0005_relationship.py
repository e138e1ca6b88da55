"""When each user last got a personal message and last wrote back (relationship score).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("users", sa.Column("last_message_sent_at", Seconds))
    op.add_column("users", sa.Column("last_message_received_at", Seconds))


def downgrade() -> None:
    op.drop_column("users", "last_message_received_at")
    op.drop_column("users", "last_message_sent_at")
