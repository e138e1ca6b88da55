"""Per-message counts: emails sent, in-app messages delivered and viewed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_stats",
        sa.Column("message_id", sa.String(32), primary_key=True),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("delivered", sa.Integer, nullable=False),
        sa.Column("viewed", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_stats")
