"""Users, companies, memberships and projection positions.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")
Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projection_positions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255)),
        sa.Column("email", sa.String(255)),
        sa.Column("name", sa.String(255)),
        sa.Column("signed_up_at", Seconds),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("updated_at", Seconds, nullable=False),
        sa.Column("last_seen_at", Seconds),
        sa.Column("last_request_at", Seconds),
        sa.Column("session_count", sa.Integer, nullable=False),
        sa.Column("session_source", sa.String(255)),
        sa.Column("impressions", sa.Integer, nullable=False),
        sa.Column("last_url", sa.Text),
        sa.Column("last_seen_ip", sa.String(64)),
        sa.Column("user_agent", sa.Text),
        sa.Column("timezone", sa.String(64)),
        sa.Column("city", sa.String(255)),
        sa.Column("country", sa.String(255)),
        sa.Column("unsubscribed_by_snippet", sa.Boolean),
        sa.Column("unsubscribed_manually", sa.Boolean, nullable=False),
        sa.Column("unsubscribed_from_emails", sa.Boolean, nullable=False),
        sa.Column("custom_attributes", JSONDoc, nullable=False),
    )
    op.create_index("users_app_email", "users", ["app_id", "email"])
    op.create_index("users_app_user_id", "users", ["app_id", "user_id"])
    op.create_index("users_app_created", "users", ["app_id", "created_at", "id"])
    op.create_index("users_app_last_seen", "users", ["app_id", "last_seen_at"])
    op.create_table(
        "user_companies",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("company_id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
    )
    op.create_index("user_companies_company", "user_companies", ["company_id", "user_id"])
    op.create_table(
        "companies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("company_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("plan", sa.String(255)),
        sa.Column("monthly_spend", sa.Float),
        sa.Column("remote_created_at", Seconds),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("updated_at", Seconds, nullable=False),
        sa.Column("custom_attributes", JSONDoc, nullable=False),
    )
    op.create_index("companies_app_company_id", "companies", ["app_id", "company_id"], unique=True)
    op.create_index("companies_app_name", "companies", ["app_id", "name"])
    op.create_index("companies_app_created", "companies", ["app_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("companies")
    op.drop_table("user_companies")
    op.drop_table("users")
    op.drop_table("projection_positions")
