"""The event store: an eventsourcing application on SQLAlchemy (SQLite or PostgreSQL)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy import Engine, insert, select, text

from commands.group_commit import GroupCommit
from domain.user import User

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class ConcurrencyExhausted(Exception):
    """A command kept colliding with concurrent writers and was given up."""


class CoreReads:
    """Reads an aggregate's events with SQLAlchemy Core instead of an ORM session.

    Loading aggregates is the hot path of every ping; the ORM session eventsourcing-sqlalchemy
    opens per read costs more CPU than the query itself. Writes stay the library's own.
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


class Parley(Application[UUID]):
    """All of Parley's aggregates live in one append-only store and one notification log."""

    name = "Parley"
    # Recently used aggregates stay in memory and are fast-forwarded from the store on each
    # load (one query for newer events instead of a snapshot query plus an events query).
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "10000"}
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {User: 50}

    def __init__(self, database_url: str) -> None:
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "commands.store:StoreFactory",
                "SQLALCHEMY_URL": database_url,
                "CREATE_TABLE": "y",
            }
        )
        self._recent: dict[UUID, tuple[float, Any]] = {}

    def close(self) -> None:
        super().close()
        if isinstance(self.factory, StoreFactory):
            engine = self.factory.datastore.engine
            if isinstance(engine, Engine):
                engine.dispose()

    def recent(self, kind: type[A], aggregate_id: UUID, max_age: float = 2.0) -> A | None:
        """An aggregate for read-only checks, reloaded when older than `max_age` seconds.

        Apps are read on every ping and API call but change rarely (keys, secure mode):
        a change reaches every process within `max_age`.
        """
        now = time.monotonic()
        held = self._recent.get(aggregate_id)
        if held is not None and now - held[0] < max_age and isinstance(held[1], kind):
            return held[1]
        found = self.get_as(kind, aggregate_id)
        if found is not None:
            self._recent[aggregate_id] = (now, found)
        return found

    def find(self, aggregate_id: UUID) -> Any | None:
        """The aggregate with this id, or None when nothing was ever recorded under it."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def get_as(self, kind: type[A], aggregate_id: UUID) -> A | None:
        found = self.find(aggregate_id)
        return found if isinstance(found, kind) else None

    def head(self) -> int:
        """Position of the newest event in the notification log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def save_all(self, *aggregates: Aggregate | None) -> int:
        """Append the pending events of all aggregates atomically; return the last position."""
        recordings = self.save(*aggregates)
        for aggregate in aggregates:
            if aggregate is not None:
                self._recent.pop(aggregate.id, None)
        return max((r.notification.id for r in recordings), default=0)


def retry_on_conflict(attempt: Callable[[], T], budget: float = 15.0) -> T:
    """Run a load-decide-save attempt again when a concurrent writer got there first.

    The failed attempt wrote nothing (the append is atomic), so repeating it on fresh
    state neither loses nor doubles the command. Waits grow exponentially with full
    jitter (capped at 50 ms) so that many writers of one aggregate all get through.
    """
    deadline = time.monotonic() + budget
    tries = 0
    while True:
        try:
            return attempt()
        except IntegrityError:
            tries += 1
            if time.monotonic() >= deadline:
                raise ConcurrencyExhausted(
                    f"gave up after {tries} conflicting attempts in {budget:.0f} s"
                ) from None
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(tries, 6))))
