"""Parley's recorders: eventsourcing-sqlalchemy's tables, read and written with Core."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy import func, insert, select, text

from commands.group_commit import GroupCommit


class CoreReads:
    """Reads an aggregate's events with SQLAlchemy Core instead of an ORM session.

    Loading aggregates is the hot path of every ping; the ORM session eventsourcing-sqlalchemy
    opens per read costs more CPU than the query itself.
    """

    events_record_cls: Any
    datastore: Any

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        t = self.events_record_cls.__table__
        query = select(t.c.originator_version, t.c.topic, t.c.state).where(
            t.c.originator_id == originator_id
        )
        if gt is not None:
            query = query.where(t.c.originator_version > gt)
        if lte is not None:
            query = query.where(t.c.originator_version <= lte)
        version = t.c.originator_version
        query = query.order_by(version.desc() if desc else version)
        if limit is not None:
            query = query.limit(limit)
        with self.datastore.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StoredEvent(
                originator_id=originator_id,
                originator_version=row.originator_version,
                topic=row.topic,
                state=bytes(row.state),
            )
            for row in rows
        ]


class Recorder(CoreReads, SQLAlchemyApplicationRecorder):
    """Appends with one Core statement inside the table lock, commits grouped.

    On PostgreSQL the events table is locked from insert to commit so positions commit in
    order; every bit of Python work in that window delays every other writer, so the window
    holds nothing but the lock, one multi-row INSERT ... RETURNING, the NOTIFY and the commit,
    and concurrent appends of one process share it (see commands/group_commit.py).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_commit = GroupCommit(self._append)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        return self.group_commit.append(stored_events)

    def max_notification_id(self) -> int | None:
        """The newest log position, with one Core query (health checks and runners ask often)."""
        table = self.events_record_cls.__table__
        with self.datastore.engine.connect() as conn:
            found = conn.execute(select(func.max(table.c.id))).scalar()
        return int(found) if found is not None else None

    def _append(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        table = self.events_record_cls.__table__
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        postgres = self.datastore.engine.dialect.name == "postgresql"
        try:
            with self.datastore.engine.begin() as conn:
                if postgres:
                    conn.execute(text(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE"))
                ids = list(conn.execute(statement, rows).scalars())
                if postgres:
                    conn.execute(text(f"NOTIFY {self.channel_name}"))
        except sqlalchemy.exc.IntegrityError as error:
            raise IntegrityError(error) from error
        return ids


class SnapshotRecorder(CoreReads, SQLAlchemyAggregateRecorder):
    pass


class StoreFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with an engine that outlives lost connections.

    PostgreSQL connections are checked before use (a restarted server or a killed backend
    costs a reconnect, not a failed command); SQLite writers wait for each other for 30 s.
    """

    application_recorder_class = Recorder
    aggregate_recorder_class = SnapshotRecorder

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        url = str(self.env.get(self.SQLALCHEMY_URL))
        options: dict[str, Any] = (
            {"connect_args": {"timeout": 30}}
            if url.startswith("sqlite")
            else {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
        )
        self.datastore = self.datastore_class(url=url, **options)
