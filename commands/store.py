"""The event store: an eventsourcing application on SQLAlchemy (SQLite or PostgreSQL)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import Engine

from domain.user import User

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class ConcurrencyExhausted(Exception):
    """A command kept colliding with concurrent writers and was given up."""


class StoreFactory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with an engine that outlives lost connections.

    PostgreSQL connections are checked before use (a restarted server or a killed backend
    costs a reconnect, not a failed command); SQLite writers wait for each other for 30 s.
    """

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
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {User: 50}

    def __init__(self, database_url: str) -> None:
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "commands.store:StoreFactory",
                "SQLALCHEMY_URL": database_url,
                "CREATE_TABLE": "y",
            }
        )

    def close(self) -> None:
        super().close()
        if isinstance(self.factory, StoreFactory):
            engine = self.factory.datastore.engine
            if isinstance(engine, Engine):
                engine.dispose()

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
        return max((r.notification.id for r in recordings), default=0)


def retry_on_conflict(attempt: Callable[[], T], attempts: int = 30) -> T:
    """Run a load-decide-save attempt again when a concurrent writer got there first.

    The failed attempt wrote nothing (the append is atomic), so repeating it on fresh
    state neither loses nor doubles the command.
    """
    for tries in range(attempts):
        try:
            return attempt()
        except IntegrityError:
            time.sleep(random.uniform(0, 0.002 * (tries + 1)))
    raise ConcurrencyExhausted(f"gave up after {attempts} conflicting attempts")
