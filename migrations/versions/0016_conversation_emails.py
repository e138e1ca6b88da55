"""A conversation's inbound emails, for its trail (projections/conversation_emails.py). The
table starts empty and its position at 0: the runner fills it from the log as it does any
projection behind.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_emails",
        sa.Column("conversation_id", sa.String(32), primary_key=True),
        sa.Column("inbound_id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("conversation_emails")
