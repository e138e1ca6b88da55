"""Where each recipient of a message stands (a message's page lists them): an email claimed,
sent, deferred with the server's answer, uncertain or skipped, then opened, clicked,
unsubscribed from; an in-app copy waiting for the user's visit, shown, viewed, clicked,
withdrawn or not shown; a reply to either. One row per message and user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Column, Connection, Index, Integer, String, Table, Text, select

from domain.conversations import Conversation
from domain.delivery import Delivery
from domain.user import User
from projections.events import event_class
from projections.tables import Seconds, metadata
from projections.upsert import upsert
from projections.users import seconds

message_recipients = Table(
    "message_recipients",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("channel", String(16), nullable=False),  # email or in-app
    Column("state", String(16), nullable=False),
    Column("detail", Text),  # the mail server's answer, or why nothing was shown
    Column("attempts", Integer, nullable=False),
    Column("delivery_id", String(32)),
    Column("conversation_id", String(32)),
    Column("delivered_at", Seconds),  # sent, or shown in the app
    Column("viewed_at", Seconds),
    Column("opened_at", Seconds),
    Column("clicked_at", Seconds),
    Column("replied_at", Seconds),
    Column("unsubscribed_at", Seconds),
    Column("updated_at", Seconds, nullable=False),
    Index("message_recipients_delivery", "delivery_id"),
    Index("message_recipients_conversation", "conversation_id"),
)

CLAIMED = event_class(Delivery, "Claimed")
# A delivery's later events name it only by its own id.
EMAIL_STATES = {
    event_class(Delivery, "Sending"): "sending",
    event_class(Delivery, "Sent"): "sent",
    event_class(Delivery, "Deferred"): "deferred",
    event_class(Delivery, "Uncertain"): "uncertain",
    event_class(Delivery, "Skipped"): "skipped",
}
EMAIL_MARKS = {
    event_class(Delivery, "Opened"): "opened_at",
    event_class(Delivery, "Clicked"): "clicked_at",
    event_class(Delivery, "Unsubscribed"): "unsubscribed_at",
}
IN_APP_STATES = {
    event_class(User, "MessageQueued"): "waiting",
    event_class(User, "AutoMessageShown"): "delivered",
    event_class(User, "MessageShown"): "delivered",
    event_class(User, "MessageNotShown"): "not shown",
    event_class(User, "MessageWithdrawn"): "withdrawn",
}
IN_APP_MARKS = {
    event_class(User, "MessageViewed"): "viewed_at",
    event_class(User, "MessageClicked"): "clicked_at",
}
STARTED = event_class(Conversation, "Started")
REPLIED = event_class(Conversation, "Replied")
TOPICS = (CLAIMED, *EMAIL_STATES, *EMAIL_MARKS, *IN_APP_STATES, *IN_APP_MARKS, STARTED, REPLIED)

Key = tuple[str, str]


class MessageRecipientsProjection:
    name = "message_recipients"
    tables: tuple[Table, ...] = (message_recipients,)
    per_aggregate = False  # a user's, a delivery's and a conversation's events meet in a row
    topics: tuple[str, ...] = tuple(get_topic(e) for e in TOPICS)

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        table = tables["message_recipients"]
        rows = _rows(conn, table, events)
        by_delivery = {r["delivery_id"]: k for k, r in rows.items() if r["delivery_id"]}
        by_conversation = {r["conversation_id"]: k for k, r in rows.items() if r["conversation_id"]}
        for e in events:
            kind, origin = type(e), e.originator_id.hex
            if kind is CLAIMED:
                row = _row(rows, (e.message_id, e.user_key), "email", e)
                row.update(channel="email", delivery_id=origin)
                row["state"] = "queued" if row["state"] in ("", "waiting") else row["state"]
                by_delivery[origin] = (e.message_id, e.user_key)
            elif kind in EMAIL_STATES or kind in EMAIL_MARKS:
                found = by_delivery.get(origin)
                if found is not None:
                    _email(rows[found], e)
            elif kind in IN_APP_STATES or kind in IN_APP_MARKS:
                row = _row(rows, (e.message_id, origin), "in-app", e)
                if kind in IN_APP_MARKS:
                    row[IN_APP_MARKS[kind]] = row[IN_APP_MARKS[kind]] or seconds(e.at)
                elif row["channel"] == "in-app":
                    row["state"] = IN_APP_STATES[kind]
                    row["detail"] = getattr(e, "reason", None)
                    if row["state"] == "delivered":
                        row["delivered_at"] = seconds(e.at)
            elif kind is STARTED and e.message_id:
                row = _row(rows, (e.message_id, e.user_key), "in-app", e)
                row["conversation_id"] = origin
                by_conversation[origin] = (e.message_id, e.user_key)
            elif kind is REPLIED and e.first_reply and origin in by_conversation:
                row = rows[by_conversation[origin]]
                row["replied_at"] = row["replied_at"] or e.part.get("at")
        upsert(conn, table, list(rows.values()))


def _keys(events: Sequence[Any]) -> tuple[set[Key], set[str], set[str]]:
    """The rows a batch names: by message and user, by delivery, by conversation."""
    pairs: set[Key] = set()
    deliveries: set[str] = set()
    conversations: set[str] = set()
    for e in events:
        kind = type(e)
        if kind is CLAIMED or kind is STARTED:
            pairs.add((e.message_id, e.user_key))
        elif kind in EMAIL_STATES or kind in EMAIL_MARKS:
            deliveries.add(e.originator_id.hex)
        elif kind is REPLIED:
            conversations.add(e.originator_id.hex)
        else:
            pairs.add((e.message_id, e.originator_id.hex))
    return pairs, deliveries, conversations


def _rows(conn: Connection, table: Table, events: Sequence[Any]) -> dict[Key, dict[str, Any]]:
    pairs, deliveries, conversations = _keys(events)
    found: dict[Key, dict[str, Any]] = {}
    c = table.c
    queries = []
    if pairs:
        messages, users = {m for m, _ in pairs}, {u for _, u in pairs}
        queries.append(select(table).where(c.message_id.in_(messages), c.user_id.in_(users)))
    if deliveries:
        queries.append(select(table).where(c.delivery_id.in_(deliveries)))
    if conversations:
        queries.append(select(table).where(c.conversation_id.in_(conversations)))
    for query in queries:
        for r in conn.execute(query).mappings():
            found[(r["message_id"], r["user_id"])] = dict(r)
    return found


def _row(rows: dict[Key, dict[str, Any]], key: Key, channel: str, e: Any) -> dict[str, Any]:
    at = seconds(e.at) if not isinstance(e.at, int) else e.at
    row = rows.get(key)
    if row is None:
        row = rows[key] = {
            "message_id": key[0],
            "user_id": key[1],
            "channel": channel,
            "state": "",
            "detail": None,
            "attempts": 0,
            "delivery_id": None,
            "conversation_id": None,
            **dict.fromkeys(("delivered_at", "viewed_at", "opened_at", "clicked_at"), None),
            **dict.fromkeys(("replied_at", "unsubscribed_at"), None),
            "updated_at": at or 0,
        }
    row["updated_at"] = max(row["updated_at"], at or 0)
    return row


def _email(row: dict[str, Any], e: Any) -> None:
    kind, at = type(e), seconds(e.at)
    row["updated_at"] = max(row["updated_at"], at or 0)
    if kind in EMAIL_MARKS:
        column = EMAIL_MARKS[kind]
        row[column] = row[column] or at
        return
    row["state"] = EMAIL_STATES[kind]
    if row["state"] == "sending":
        row["attempts"] += 1
    elif row["state"] == "sent":
        row["delivered_at"] = at
    row["detail"] = getattr(e, "error", None) or getattr(e, "reason", None)
