"""The company list sorted by users: each company's count read off an index of the app's
memberships, not from every app's.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("user_companies_app_company", "user_companies", ["app_id", "company_id"])


def downgrade() -> None:
    op.drop_index("user_companies_app_company", "user_companies")
