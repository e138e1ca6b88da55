"""The tags read model: each app's tags by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, delete, update

from domain.tags import Tags
from projections.events import event_class
from projections.tables import tags
from projections.upsert import upsert
from projections.users import seconds

CREATED = event_class(Tags, "Created")
RENAMED = event_class(Tags, "Renamed")
DELETED = event_class(Tags, "Deleted")


class TagsProjection:
    name = "tags"
    tables: tuple[Table, ...] = (tags,)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(map(get_topic, (CREATED, RENAMED, DELETED)))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        table = tables["tags"]
        for event in events:
            if isinstance(event, CREATED):
                row = {
                    "id": event.tag_id,
                    "app_id": event.app_id,
                    "name": event.name,
                    "created_at": seconds(event.at),
                }
                upsert(conn, table, [row])
            elif isinstance(event, RENAMED):
                conn.execute(
                    update(table).where(table.c.id == event.tag_id).values(name=event.name)
                )
            elif isinstance(event, DELETED):
                conn.execute(delete(table).where(table.c.id == event.tag_id))
