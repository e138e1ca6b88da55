"""Reading the notification log in bulk, by position window and topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification
from sqlalchemy import Table, func, select

from commands.store import Parley


def events_table(store: Parley) -> Table:
    """The store's events table as a SQLAlchemy Core table.

    eventsourcing-sqlalchemy reads through an ORM session per call; projections read tens
    of thousands of rows at a time, where plain Core rows are several times cheaper.
    """
    table: Table = store.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    return table


class Log:
    """The window of the log a batch covers and the events in it a projection cares about."""

    def __init__(self, store: Parley) -> None:
        self.store = store
        self.table = events_table(store)
        self.engine = store.factory.datastore.engine  # type: ignore[attr-defined]

    def head(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(self.table.c.id))).scalar() or 0)

    def read(
        self, after: int, until: int, topics: Sequence[str], limit: int
    ) -> tuple[list[Any], int]:
        """Decoded events with these topics in (after, until], at most `limit` of them.

        Returns the events and the position the batch reached: `until` when the window held
        no more than `limit` matching events, else the last one read.
        """
        t = self.table
        query = (
            select(t.c.id, t.c.originator_id, t.c.originator_version, t.c.topic, t.c.state)
            .where(t.c.id > after, t.c.id <= until, t.c.topic.in_(topics))
            .order_by(t.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        reached = rows[-1].id if len(rows) == limit else until
        mapper = self.store.mapper
        events = [
            mapper.to_domain_event(
                Notification(
                    id=r.id,
                    originator_id=r.originator_id,
                    originator_version=r.originator_version,
                    topic=r.topic,
                    state=bytes(r.state),
                )
            )
            for r in rows
        ]
        return events, reached
