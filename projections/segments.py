"""The segments read model: each app's saved filters, for lists, counts and SQL filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, delete, update

from domain.segments import Segments
from projections.events import event_class
from projections.tables import segments
from projections.upsert import upsert
from projections.users import seconds

CREATED = event_class(Segments, "Created")
CHANGED = event_class(Segments, "Changed")
DELETED = event_class(Segments, "Deleted")


class SegmentsProjection:
    name = "segments"
    tables: tuple[Table, ...] = (segments,)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(map(get_topic, (CREATED, CHANGED, DELETED)))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        table = tables["segments"]
        for event in events:
            if isinstance(event, CREATED):
                at = seconds(event.at)
                row = {
                    "id": event.segment_id,
                    "app_id": event.app_id,
                    "name": event.name,
                    "definition": event.definition,
                    "created_at": at,
                    "updated_at": at,
                }
                upsert(conn, table, [row])
            elif isinstance(event, CHANGED):
                conn.execute(
                    update(table)
                    .where(table.c.id == event.segment_id)
                    .values(
                        name=event.name, definition=event.definition, updated_at=seconds(event.at)
                    )
                )
            elif isinstance(event, DELETED):
                conn.execute(delete(table).where(table.c.id == event.segment_id))
