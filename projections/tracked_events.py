"""Each event a user was tracked doing, one row per occurrence with its metadata, newest first
per user: what `GET /events?type=user` lists (the users projection keeps only counts and
first and last times per name, for filters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.utils import get_topic
from sqlalchemy import Column, Connection, Index, String, Table, delete

from domain.user import User
from projections.events import event_class
from projections.tables import JSONDoc, Seconds, metadata
from projections.upsert import upsert

tracked_events = Table(
    "tracked_events",
    metadata,
    Column("id", String(32), primary_key=True),
    # Parley's id of the user (the app is the user's: requests name the user within theirs)
    Column("user_id", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", Seconds, nullable=False),
    Column("metadata", JSONDoc, nullable=False),
    Index("tracked_events_user", "user_id", "created_at", "id"),
)

TRACKED = event_class(User, "EventTracked")
DELETED = event_class(User, "Deleted")


def occurrence_id(event: Any) -> str:
    """A stable id for one tracked event: the same on every rebuild."""
    return uuid5(NAMESPACE_URL, f"{event.originator_id.hex}/{event.originator_version}").hex


class TrackedEventsProjection:
    name = "tracked_events"
    tables: tuple[Table, ...] = (tracked_events,)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(map(get_topic, (TRACKED, DELETED)))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        table = tables["tracked_events"]
        rows: dict[str, dict[str, Any]] = {}
        for event in events:
            if isinstance(event, TRACKED):
                key = occurrence_id(event)
                rows[key] = {
                    "id": key,
                    "user_id": event.originator_id.hex,
                    "name": event.name,
                    "created_at": int(event.at.timestamp()),
                    "metadata": dict(event.metadata or {}),
                }
            elif isinstance(event, DELETED):  # a deleted user's events go with them
                gone = event.originator_id.hex
                rows = {k: r for k, r in rows.items() if r["user_id"] != gone}
                upsert(conn, table, list(rows.values()))
                rows = {}
                conn.execute(delete(table).where(table.c.user_id == gone))
        upsert(conn, table, list(rows.values()))
