"""Message stats: users a message was due to but showed nothing (its body, with their values,
was empty), skipped instead of stopping their page views.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "message_stats", sa.Column("not_shown", sa.Integer, nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("message_stats", "not_shown")
