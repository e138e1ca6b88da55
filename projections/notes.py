"""The notes read model: one row per note on a user, as written (notes never change)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table

from domain.notes import Note
from projections.events import event_class
from projections.tables import notes
from projections.upsert import upsert
from projections.users import seconds

CREATED = event_class(Note, "Created")


class NotesProjection:
    name = "notes"
    tables: tuple[Table, ...] = (notes,)
    per_aggregate = True
    topics: tuple[str, ...] = (get_topic(CREATED),)

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        rows = [
            {
                "id": e.note_id,
                "app_id": e.app_id,
                "user_id": e.user_key,
                "admin_id": e.admin_id,
                "body": e.body,
                "created_at": seconds(e.at),
                "recorded": int(e.timestamp.timestamp() * 1_000_000),
            }
            for e in events
            if isinstance(e, CREATED)
        ]
        upsert(conn, tables["notes"], rows)
