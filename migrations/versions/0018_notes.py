"""Notes on users: one row per note, found by user, newest first. A new projection, which the
runner fills from position 0 as it does any projection behind.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("admin_id", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("recorded", sa.BigInteger, nullable=False),
    )
    op.create_index("notes_user_created", "notes", ["user_id", "created_at", "recorded"])


def downgrade() -> None:
    op.drop_table("notes")
