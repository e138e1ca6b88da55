"""The dashboard's messages: an app's messages as the team lists them, and where each
recipient of a message stands. Both come from the events: new projections, which the runner
fills from position 0 as it does any projection behind.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Seconds = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "message_list",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("admin_id", sa.String(64)),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("audience", JSONDoc),
        sa.Column("chosen", sa.Integer),
        sa.Column("first_recipient", sa.String(32)),
        sa.Column("versions", sa.Integer, nullable=False),
        sa.Column("created_at", Seconds, nullable=False),
        sa.Column("edited_at", Seconds),
        sa.Column("stop_at", Seconds),
        sa.Column("stopped_at", Seconds),
    )
    op.create_index("message_list_app_created", "message_list", ["app_id", "created_at", "id"])
    op.create_table(
        "message_recipients",
        sa.Column("message_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("delivery_id", sa.String(32)),
        sa.Column("conversation_id", sa.String(32)),
        *(
            sa.Column(name, Seconds)
            for name in (
                "delivered_at",
                "viewed_at",
                "opened_at",
                "clicked_at",
                "replied_at",
                "unsubscribed_at",
            )
        ),
        sa.Column("updated_at", Seconds, nullable=False),
    )
    op.create_index("message_recipients_delivery", "message_recipients", ["delivery_id"])
    op.create_index("message_recipients_conversation", "message_recipients", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("message_recipients")
    op.drop_table("message_list")
