"""User lists read newest first (NULLs last) straight off an index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("users_app_created", "users")
    op.drop_index("users_app_last_seen", "users")
    nulls_last = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    for column in ("created_at", "last_seen_at"):
        order = [sa.text(f"{column} DESC{nulls_last}"), sa.text("id DESC")]
        op.create_index(f"users_app_{column}", "users", ["app_id", *order])


def downgrade() -> None:
    for column in ("created_at", "last_seen_at"):
        op.drop_index(f"users_app_{column}", "users")
    op.create_index("users_app_created", "users", ["app_id", "created_at", "id"])
    op.create_index("users_app_last_seen", "users", ["app_id", "last_seen_at"])
