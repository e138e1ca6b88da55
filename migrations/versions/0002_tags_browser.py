"""Tags of users and companies; each user's browser, read from the user agent.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from domain.values import browser

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("users", sa.Column("browser", sa.String(64)))
    users = sa.table("users", sa.column("user_agent", sa.Text), sa.column("browser", sa.String))
    conn = op.get_bind()
    agents = conn.execute(sa.select(users.c.user_agent).distinct()).scalars().all()
    for agent in agents:
        if agent is not None:
            conn.execute(
                users.update().where(users.c.user_agent == agent).values(browser=browser(agent))
            )
    op.create_table(
        "tags",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", Seconds, nullable=False),
    )
    op.create_index("tags_app_name", "tags", ["app_id", "name"])
    for owner in ("user", "company"):
        table = f"{owner}_tags"
        op.create_table(
            table,
            sa.Column(f"{owner}_id", sa.String(32), primary_key=True),
            sa.Column("tag_id", sa.String(32), primary_key=True),
            sa.Column("app_id", sa.String(64), nullable=False),
        )
        op.create_index(f"{table}_tag", table, ["tag_id", f"{owner}_id"])


def downgrade() -> None:
    for table in ("company_tags", "user_tags", "tags"):
        op.drop_table(table)
    op.drop_column("users", "browser")
