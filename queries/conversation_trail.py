"""A conversation's whole trail, for auditors (issue 15): every event of the conversation and of
the records around it, read from the event store in log order, each with its time, who did it
(in words too) and what it changed, its fields redacted as the event export redacts them.

Around a conversation are: the emails it was written by (`InboundEmail`, found through the
`conversation_emails` index and, for what that index has not read yet, the log after its
position) and, for a conversation an emailed message opened, that email's delivery (its id
follows from the message and the user: `delivery_key`). Emails to teammates about a user's
words and teammates' answers emailed to the user are the conversation's own `Notifying`
events, recorded before each send. The events come in two reads: the conversation's by its
id, then the others' by theirs; the user's name and address come from their aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import Connection, select

from domain.conversations import Conversation, emailed_conversation_id
from domain.delivery import delivery_key
from domain.user import User
from projections.conversation_emails import (
    RECEIVED_TOPICS,
    ConversationEmailsProjection,
    conversation_emails,
)
from projections.tables import positions
from queries.activity import Events, HistoryStore, Row
from queries.conversation_words import Context, People, action_of, summary_of
from queries.history import redact

# What every event carries and the entry shows apart from its fields.
BOOKKEEPING = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
KINDS = {"Conversation": "conversation", "InboundEmail": "inbound_email", "Delivery": "delivery"}
VIA = {
    "widget": "via widget",
    "api": "via API key",
    "email": "via email",
    "in-app": "via in-app message",
    "dashboard": "via dashboard",
}


@dataclass(frozen=True)
class Trail:
    """A conversation's trail: its events as entries, and what a page names it by."""

    conversation_id: str  # as stored (hex)
    user_key: str
    subject: str | None
    events: list[dict[str, Any]]


def conversation_trail(
    store: HistoryStore,
    conn: Connection,
    *,
    app_id: str,
    conversation_id: str,
    admins: Mapping[str, Mapping[str, str]],
) -> Trail | None:
    """Every event of the app's conversation and around it, oldest first; None when the app
    has no such conversation (`conn`: the projections)."""
    try:
        key = UUID(hex=conversation_id)
    except ValueError:
        return None
    events = Events(store)
    t = events.table.c
    own = events.rows(t.originator_id == key, order=t.originator_version)
    started = events.event(own[0]) if own else None
    if not isinstance(started, Conversation.Started) or started.app_id != app_id:
        return None
    linked = _linked(conn, events, started)
    others = events.rows(t.originator_id.in_(linked), order=t.id) if linked else []
    decoded = [(row, events.event(row)) for row in sorted(own + others, key=lambda r: r[0])]
    people = People(admins, started.user_key, _user_of(store, started.user_key))
    context = Context(
        people=people,
        parts={e.part["id"]: row[0] for row, e in decoded if hasattr(e, "part")},
    )
    entries = [_entry(row, e, context) for row, e in decoded]
    return Trail(started.conversation_id, started.user_key, started.subject, entries)


def _linked(conn: Connection, events: Events, started: Any) -> list[UUID]:
    """The ids of the inbound emails and the delivery around this conversation."""
    found: set[UUID] = set()
    conversation_id, message_id = started.conversation_id, started.message_id
    if message_id and conversation_id == emailed_conversation_id(message_id, started.user_key):
        found.add(delivery_key(message_id, started.user_key, "email"))
    # The index's position first, then its rows: what it committed after is in the log's tail.
    index = ConversationEmailsProjection.name
    tracked = select(positions.c.position).where(positions.c.name == index)
    indexed = int(conn.execute(tracked).scalar() or 0)
    c = conversation_emails.c
    rows = conn.execute(select(c.inbound_id).where(c.conversation_id == conversation_id))
    found.update(UUID(hex=inbound) for inbound in rows.scalars())
    t = events.table.c
    for row in events.rows(t.id > indexed, t.topic.in_(RECEIVED_TOPICS), order=t.id):
        received = events.event(row)
        if received.conversation_id == conversation_id:
            found.add(received.originator_id)
    return sorted(found)


def _user_of(store: HistoryStore, user_key: str) -> Mapping[str, Any] | None:
    """The conversation's user as the store has them now (deleted ones too: the trail is a
    record), not as a projection may lag behind."""
    try:
        user = store.repository.get(UUID(hex=user_key))
    except AggregateNotFoundError:
        return None
    if not isinstance(user, User):
        return None
    return {"name": user.name, "email": user.email, "user_id": user.user_id}


def _entry(row: Row, event: Any, context: Context) -> dict[str, Any]:
    position, originator_id, version, topic, _ = row
    name = topic.rpartition(":")[2]
    at = _seconds(event)
    return {
        "type": "event",
        "position": position,
        "created_at": at,
        "at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": name,
        "aggregate_type": KINDS.get(name.partition(".")[0], name.partition(".")[0].lower()),
        "aggregate_id": UUID(str(originator_id)).hex,
        "version": version,
        "actor": _actor(event, context.people),
        "action": action_of(event),
        "summary": summary_of(event, context),
        **({"to": context.recipients(event)} if hasattr(event, "admin_ids") else {}),
        "data": redact({k: _plain(v) for k, v in vars(event).items() if k not in BOOKKEEPING}),
    }


def _seconds(event: Any) -> int:
    """When it happened, by the domain's clock (a part's own time), else when recorded."""
    at = event.part["at"] if hasattr(event, "part") else getattr(event, "at", None)
    if at is None:
        at = event.timestamp
    return at if isinstance(at, int) else int(at.timestamp())


def _actor(event: Any, people: People) -> dict[str, Any]:
    """Who did it: a user or teammate (and through what), an email's sender, or Parley."""
    name = type(event).__qualname__
    who: Mapping[str, Any]
    via: str | None
    if hasattr(event, "sender"):  # an inbound email: known by its address alone
        return {"type": "email", "address": event.sender, "label": f"email from {event.sender}"}
    if name.startswith("Delivery.") and name.split(".")[1] in ("Opened", "Clicked", "Unsubscribed"):
        who, via = {"type": "user", "id": people.user_key}, "email"
    elif hasattr(event, "part"):
        who, via = event.part["author"], event.part.get("via")
    elif hasattr(event, "author"):
        who, via = event.author, getattr(event, "via", None)
    elif hasattr(event, "reader"):
        who, via = event.reader, None
    else:
        return {"type": "system", "name": "Parley", "label": "Parley (system)"}
    return _person(who, via, people)


def _person(who: Mapping[str, Any], via: str | None, people: People) -> dict[str, Any]:
    if who.get("type") == "admin":
        admin = people.admin(str(who.get("id")))
        found = {"type": "admin", "id": who.get("id"), **admin}
        label = f"{admin['name']} (teammate)"
    else:
        found = {"type": "user", "id": who.get("id"), "name": people.user_name()}
        label = f"{found['name']} (user)"
    said = VIA.get(via, f"via {via}") if via else ""
    return {**found, "via": via, "label": f"{label} {said}".strip()}


def _plain(value: Any) -> Any:
    """An event's field as JSON: ids as hex, moments in ISO 8601 (UTC)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value
