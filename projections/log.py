"""Reading the notification log in bulk, by position window and topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Table, Uuid, func, select, type_coerce


class EventStore(Protocol):
    """What projections read of the event store the composition root hands them (Parley's
    store, commands/store.py): its recorder's table, its mapper, its head; `close`d when a
    process opened its own."""

    recorder: Any
    mapper: Any
    factory: Any

    def head(self) -> int: ...

    def close(self) -> None: ...


def events_table(store: EventStore) -> Table:
    """The store's events table as a SQLAlchemy Core table.

    eventsourcing-sqlalchemy reads through an ORM session per call; projections read tens
    of thousands of rows at a time, where plain Core rows are several times cheaper.
    """
    table: Table = store.recorder.events_record_cls.__table__
    return table


class Stored(NamedTuple):
    """What the mapper reads of a stored event; a plain tuple is far cheaper to build than
    eventsourcing's frozen dataclasses, and the log reads tens of thousands at a time."""

    originator_id: Any
    originator_version: int
    topic: str
    state: bytes


class Log:
    """The window of the log a batch covers and the events in it a projection cares about."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.table = events_table(store)
        self.engine = store.factory.datastore.engine
        # PostgreSQL returns native UUIDs: read them with SQLAlchemy's own (cheap) Uuid type
        # rather than the per-row Python conversion of the column's declared type.
        column = self.table.c.originator_id
        postgres = self.engine.dialect.name == "postgresql"
        self._originator_id = (
            type_coerce(column, Uuid()).label("originator_id") if postgres else column
        )

    @property
    def originator_id_column(self) -> Any:
        return self._originator_id

    def head(self) -> int:
        return self.store.head()

    def topics_between(self, after: int, until: int) -> set[str]:
        """The topics of the events in (after, until]."""
        t = self.table
        query = select(t.c.topic).where(t.c.id > after, t.c.id <= until).distinct()
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def read(
        self,
        after: int,
        until: int,
        topics: Sequence[str],
        limit: int,
        share: tuple[int, int] | None = None,
    ) -> tuple[list[Any], int]:
        """Decoded events with these topics in (after, until], at most `limit` of them.

        Returns the events and the position the batch reached: `until` when the window held
        no more than `limit` matching events, else the last one read. With `share` = (k, n),
        only the events of the k-th of n disjoint sets of aggregates (PostgreSQL only).
        """
        t = self.table
        query = (
            select(t.c.id, self._originator_id, t.c.originator_version, t.c.topic, t.c.state)
            .where(t.c.id > after, t.c.id <= until, t.c.topic.in_(topics))
            .order_by(t.c.id)
            .limit(limit)
        )
        if share is not None:
            last_byte = func.get_byte(func.uuid_send(t.c.originator_id), 15)
            query = query.where(last_byte % share[1] == share[0])
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        reached = rows[-1].id if len(rows) == limit else until
        decode = self.store.mapper.to_domain_event
        events = [
            decode(Stored(r.originator_id, r.originator_version, r.topic, bytes(r.state)))
            for r in rows
        ]
        return events, reached
