"""Projection tables. Dates are whole seconds since the epoch (UTC), as the REST API shows them.

Alembic migrations under migrations/ create these; rebuilds create fresh copies of them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import false

metadata = MetaData()
PREVIEW = 160  # characters of a conversation's latest words the inbox list shows

JSONDoc = JSON().with_variant(JSONB(), "postgresql")
Seconds = BigInteger().with_variant(Integer(), "sqlite")

positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("user_id", String(255)),
    Column("email", String(255)),
    Column("name", String(255)),
    Column("signed_up_at", Seconds),
    Column("created_at", Seconds, nullable=False),
    Column("updated_at", Seconds, nullable=False),
    Column("last_seen_at", Seconds),
    Column("last_request_at", Seconds),
    Column("session_count", Integer, nullable=False),
    Column("session_source", String(255)),
    Column("impressions", Integer, nullable=False),
    Column("last_url", Text),
    Column("last_seen_ip", String(64)),
    Column("user_agent", Text),
    Column("browser", String(64)),
    Column("timezone", String(64)),
    Column("city", String(255)),
    Column("country", String(255)),
    Column("unsubscribed_by_snippet", Boolean),
    Column("unsubscribed_manually", Boolean, nullable=False),
    Column("unsubscribed_from_emails", Boolean, nullable=False),
    Column("custom_attributes", JSONDoc, nullable=False),
    Column("last_message_sent_at", Seconds),
    Column("last_message_received_at", Seconds),
    Index("users_app_email", "app_id", "email"),
    Index("users_app_user_id", "app_id", "user_id"),
)

# Lists are newest first, users without a value last: the indexes hold that order, so the
# first page of a large app is read off an index instead of sorting every row. (SQLite puts
# NULLs last in a DESC index and cannot say NULLS LAST in one; PostgreSQL needs to be told.)
for _column in ("created_at", "last_seen_at"):
    Index(
        f"users_app_{_column}",
        users.c.app_id,
        users.c[_column].desc().nulls_last(),
        users.c.id.desc(),
    ).ddl_if(dialect="postgresql")
    Index(
        f"users_app_{_column}",
        users.c.app_id,
        users.c[_column].desc(),
        users.c.id.desc(),
    ).ddl_if(dialect="sqlite")

user_companies = Table(
    "user_companies",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("company_id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Index("user_companies_company", "company_id", "user_id"),
    # Every company's user count at once, off the index (the company list sorted by users).
    Index("user_companies_app_company", "app_id", "company_id"),
)

companies = Table(
    "companies",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("company_id", String(255), nullable=False),
    Column("name", String(255)),
    Column("plan", String(255)),
    Column("monthly_spend", Float),
    Column("remote_created_at", Seconds),
    Column("created_at", Seconds, nullable=False),
    Column("updated_at", Seconds, nullable=False),
    Column("custom_attributes", JSONDoc, nullable=False),
    Index("companies_app_company_id", "app_id", "company_id", unique=True),
    Index("companies_app_name", "app_id", "name"),
    Index("companies_app_created", "app_id", "created_at", "id"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", Seconds, nullable=False),
    Index("tags_app_name", "app_id", "name"),
)

user_tags = Table(
    "user_tags",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("tag_id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Index("user_tags_tag", "tag_id", "user_id"),
)

company_tags = Table(
    "company_tags",
    metadata,
    Column("company_id", String(32), primary_key=True),
    Column("tag_id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Index("company_tags_tag", "tag_id", "company_id"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("definition", JSONDoc, nullable=False),
    Column("created_at", Seconds, nullable=False),
    Column("updated_at", Seconds, nullable=False),
    Index("segments_app_name", "app_id", "name"),
)

app_user_counts = Table(
    "app_user_counts",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("users", Integer, nullable=False),  # rows of the app in `users`, kept as they change
)

user_events = Table(
    "user_events",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_at", Seconds, nullable=False),
    Column("last_at", Seconds, nullable=False),
    # user_id last: who did it so many times, from the index alone.
    Index("user_events_app_name", "app_id", "name", "count", "user_id"),
)

message_stats = Table(
    "message_stats",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("sent", Integer, nullable=False),  # emails the server accepted
    Column("delivered", Integer, nullable=False),  # in-app: shown with a page view
    Column("viewed", Integer, nullable=False),  # in-app: displayed by the widget
    Column("opened", Integer, nullable=False, server_default="0"),  # emails: image fetched
    Column("clicked", Integer, nullable=False, server_default="0"),  # emails: a link followed
    Column("unsubscribed", Integer, nullable=False, server_default="0"),  # by its link
    Column("replied", Integer, nullable=False, server_default="0"),  # users who replied
    Column("not_shown", Integer, nullable=False, server_default="0"),  # in-app: showed nothing
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # manual or auto
    Column("message_type", String(32), nullable=False),
    Column("bulk", Boolean, nullable=False),  # to a filter's users, not to chosen ones
    Column("recipient", String(32)),  # the first chosen user
    Column("created_at", Seconds, nullable=False),
    Column("stop_at", Seconds),
    Column("stopped_at", Seconds),
    Column("dispatched_at", Seconds),  # manual: every recipient's copy queued
    Index("messages_app_created", "app_id", "created_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("message_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("updated_at", Seconds, nullable=False),
    Index("deliveries_message_user", "message_id", "user_id"),
    Index("deliveries_state", "state", "updated_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("message_id", String(32)),  # the teammate's message that started it, if any
    Column("user_started", Boolean, nullable=False),
    Column("assignee_id", String(64)),
    Column("open", Boolean, nullable=False),
    Column("created_at", Seconds, nullable=False),
    Column("updated_at", Seconds, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("user_wrote", Integer, nullable=False),  # parts up to the user's latest comment
    Column("user_unread", Boolean, nullable=False),  # a teammate wrote what the user has not read
    Column("admins_read", JSONDoc, nullable=False),  # admin id -> parts read (-1: none)
    # The assignee has not read what the user wrote (their unread count, `GET /counts`).
    Column("assignee_unread", Boolean, nullable=False, server_default=false()),
    # The inbox list's line: the first words of the latest comment (or the opening message)
    # and who wrote it ("user" or "admin").
    Column("preview", String(PREVIEW)),
    Column("preview_by", String(8)),
    # Opened by a teammate's message the user has not answered: the dashboard's inbox leaves
    # it out until they do (seed: "Their replies will show up in your inbox").
    Column("waiting", Boolean, nullable=False, server_default=false()),
    # Inbox views: all, mine or unassigned; open or closed; newest first.
    Index("conversations_app_open", "app_id", "open", "updated_at", "id"),
    Index("conversations_app_assignee", "app_id", "assignee_id", "open", "updated_at", "id"),
    Index("conversations_user", "user_id", "updated_at", "id"),
)

# How many conversations each teammate has, open or closed, read or not ("" for unassigned),
# kept by the conversations projection as rows change: `GET /counts?type=conversation`.
conversation_counts = Table(
    "conversation_counts",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("assignee_id", String(64), primary_key=True),
    Column("open", Boolean, primary_key=True),
    Column("unread", Boolean, primary_key=True),
    Column("waiting", Boolean, primary_key=True, server_default=false()),
    Column("conversations", Integer, nullable=False),
)

# Not a projection: the bytes of inbound emails' attachments, which events name by SHA-256
# (commands/inbound.py). Written before the event that refers to them; never rebuilt.
attachments = Table(
    "attachments",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Seconds, nullable=False),
)

# Notes teammates wrote on users (domain/notes.py): `GET /notes`, the profile's Notes card.
notes = Table(
    "notes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),  # the user's Parley id
    Column("admin_id", String(64)),  # None: written through the API naming no teammate
    Column("body", Text, nullable=False),  # sanitised HTML
    Column("created_at", Seconds, nullable=False),
    # When the store recorded it (microseconds): the order of notes written in one second.
    Column("recorded", BigInteger, nullable=False),
    Index("notes_user_created", "user_id", "created_at", "recorded"),
)
