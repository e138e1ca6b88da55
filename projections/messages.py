"""Messages and their email deliveries: what the sweep looks for (manual messages not yet
dispatched, deliveries left half-way, auto emails' users not yet sent to) and what teammates
see of failures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, update

from domain.delivery import CLAIMED, DEFERRED, SENDING, SENT, SKIPPED, UNCERTAIN, Delivery
from domain.messages import Message
from projections.events import event_class
from projections.tables import deliveries, messages
from projections.upsert import upsert
from projections.users import seconds

CREATED = event_class(Message, "Created")
STOPPED = event_class(Message, "Stopped")
DISPATCHED = event_class(Message, "Dispatched")
CLAIM = event_class(Delivery, "Claimed")
STATES = {
    event_class(Delivery, "Sending"): SENDING,
    event_class(Delivery, "Sent"): SENT,
    event_class(Delivery, "Deferred"): DEFERRED,
    event_class(Delivery, "Uncertain"): UNCERTAIN,
    event_class(Delivery, "Skipped"): SKIPPED,
}


class MessagesProjection:
    name = "messages"
    tables: tuple[Table, ...] = (messages, deliveries)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(
        get_topic(e) for e in (CREATED, STOPPED, DISPATCHED, CLAIM, *STATES)
    )

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        sent, handed = tables["messages"], tables["deliveries"]
        for e in events:
            key = e.originator_id.hex
            if isinstance(e, CREATED):
                row = {
                    "id": key,
                    "app_id": e.app_id,
                    "kind": e.kind,
                    "message_type": e.message_type,
                    "bulk": e.recipients is None,
                    "recipient": e.recipients[0] if e.recipients else None,
                    "created_at": e.version["at"],
                    "stop_at": e.stop_at,
                    "stopped_at": None,
                    "dispatched_at": None,
                }
                upsert(conn, sent, [row])
            elif isinstance(e, STOPPED):
                conn.execute(update(sent).where(sent.c.id == key).values(stopped_at=e.at))
            elif isinstance(e, DISPATCHED):
                conn.execute(update(sent).where(sent.c.id == key).values(dispatched_at=e.at))
            elif isinstance(e, CLAIM):
                row = {
                    "id": key,
                    "message_id": e.message_id,
                    "user_id": e.user_key,
                    "channel": e.channel,
                    "state": CLAIMED,
                    "attempts": 0,
                    "last_error": None,
                    "updated_at": seconds(e.at or e.timestamp),
                }
                upsert(conn, handed, [row])
            else:
                values: dict[str, Any] = {"state": STATES[type(e)], "updated_at": seconds(e.at)}
                if values["state"] == SENDING:
                    values["attempts"] = handed.c.attempts + 1
                if values["state"] == DEFERRED:
                    values["last_error"] = e.error
                if values["state"] == SKIPPED:
                    values["last_error"] = e.reason
                conn.execute(update(handed).where(handed.c.id == key).values(**values))
