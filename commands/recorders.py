"""Parley's recorders: eventsourcing-sqlalchemy's tables, read and written with Core."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy import Engine, Result, create_engine, event, func, insert, select, text
from sqlalchemy.pool import ConnectionPoolEntry

from commands.group_commit import GroupCommit

T = TypeVar("T")
# A pooled connection idle for longer than this is checked (one round trip) before use.
IDLE_CHECK_SECONDS = 5.0


def check_idle_connections(engine: Engine, idle: float = IDLE_CHECK_SECONDS) -> None:
    """Ping a pooled connection on checkout only when it sat idle for `idle` seconds.

    SQLAlchemy's pool_pre_ping costs a round trip on every checkout, the most frequent
    statement of a ping. Connections in steady use are not checked; one that dies between
    two uses fails its statement instead, and `once_more_if_dropped` replays it on a fresh
    connection when that is safe (nothing was committed).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as error:
            # The pool replaces this connection (and any older ones) and tries again.
            raise sqlalchemy.exc.DisconnectionError(str(error)) from error


def once_more_if_dropped(work: Callable[[], T]) -> T:
    """Run `work` again on a fresh connection when its connection turned out to be dead.

    Only for work that either completes or leaves no trace: a read, or a write whose
    transaction never reached COMMIT.
    """
    try:
        return work()
    except sqlalchemy.exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
    return work()


class Datastore(SQLAlchemyDatastore):
    """eventsourcing-sqlalchemy's datastore with pool settings that outlive lost connections,
    plus `reader`, an engine for single-statement reads.

    PostgreSQL connections idle for a while are checked before use, and a statement that
    finds its connection dead is replayed once when nothing was committed (a restarted
    server or a killed backend costs a reconnect, not a failed command). The reader's
    connections stay in autocommit mode, so a read is one round trip instead of BEGIN,
    SELECT and ROLLBACK (switching a pooled connection in and out of autocommit costs a
    round trip too, hence a pool of its own). SQLite writers wait for each other for 30 s.
    """

    def __init__(self, *, url: str | None = None, **kwargs: Any) -> None:
        if not url:
            raise ValueError("Parley's event store needs a database URL")
        options: dict[str, Any] = (
            {"connect_args": {"timeout": 30}}
            if url.startswith("sqlite")
            else {"pool_size": 10, "max_overflow": 20}
        )
        super().__init__(url=url, **options, **kwargs)
        assert isinstance(self.engine, Engine)
        self.writer: Engine = self.engine
        self.reader: Engine = self.engine
        if self.writer.dialect.name == "postgresql":
            self.reader = create_engine(url, isolation_level="AUTOCOMMIT", **options)
            check_idle_connections(self.writer)
            check_idle_connections(self.reader)

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


class CommitOutcomeUnknown(Exception):
    """The connection was lost while committing: the events may or may not be stored."""


class CoreReads:
    """Reads an aggregate's events with SQLAlchemy Core instead of an ORM session.

    Loading aggregates is the hot path of every ping; the ORM session eventsourcing-sqlalchemy
    opens per read costs more CPU than the query itself.
    """

    events_record_cls: Any
    datastore: Any  # a Datastore

    def read(self, query: Any, take: Callable[[Result[Any]], T]) -> T:
        """One statement on the autocommit reader, replayed once on a dropped connection."""

        def attempt() -> T:
            reader: Engine = self.datastore.reader
            with reader.connect() as conn:
                return take(conn.execute(query))

        return once_more_if_dropped(attempt)

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
        rows = self.read(query, lambda result: result.all())
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
    holds nothing but the lock, one multi-row INSERT ... RETURNING and the commit, and
    concurrent appends of one process share it (see commands/group_commit.py). No NOTIFY is
    sent: nothing LISTENs (projection runners poll), and NOTIFY serialises every commit.
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

    def created_among(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """The ids among these that have a first event (every aggregate's version 1)."""
        t = self.events_record_cls.__table__
        query = select(t.c.originator_id).where(
            t.c.originator_id.in_(originator_ids), t.c.originator_version == 1
        )
        return self.read(query, lambda result: {UUID(str(found)) for found in result.scalars()})

    def max_notification_id(self) -> int | None:
        """The newest log position, with one Core query (health checks and runners ask often)."""
        table = self.events_record_cls.__table__
        found = self.read(select(func.max(table.c.id)), lambda result: result.scalar())
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
        engine: Engine = self.datastore.writer
        lock = text(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE")

        def write() -> list[int]:
            with engine.connect() as conn:
                transaction = conn.begin()
                if engine.dialect.name == "postgresql":
                    conn.execute(lock)
                ids = list(conn.execute(statement, rows).scalars())
                try:
                    transaction.commit()
                except sqlalchemy.exc.DBAPIError as error:
                    if error.connection_invalidated:
                        raise CommitOutcomeUnknown(str(error)) from error
                    raise
                return ids

        try:
            return once_more_if_dropped(write)
        except sqlalchemy.exc.IntegrityError as error:
            raise IntegrityError(error) from error


class SnapshotRecorder(CoreReads, SQLAlchemyAggregateRecorder):
    pass


class StoreFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with Parley's recorders and datastore."""

    application_recorder_class = Recorder
    aggregate_recorder_class = SnapshotRecorder
    datastore_class = Datastore
    datastore: Datastore
