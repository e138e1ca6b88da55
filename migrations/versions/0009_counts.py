"""Each app's number of users, kept by the users projection: the unfiltered user list's
total without counting a million rows. Tracked-event stats are indexed with the user last, so
"did X at least N times" finds its users from the index alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user_counts",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("users", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO app_user_counts (app_id, users) "
        "SELECT app_id, count(*) FROM users GROUP BY app_id"
    )

    op.drop_index("user_events_app_name", "user_events")
    op.create_index("user_events_app_name", "user_events", ["app_id", "name", "count", "user_id"])


def downgrade() -> None:
    op.drop_index("user_events_app_name", "user_events")
    op.create_index("user_events_app_name", "user_events", ["app_id", "name", "count"])
    op.drop_table("app_user_counts")
