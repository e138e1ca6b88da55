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

from domain.user import User

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class ConcurrencyExhausted(Exception):
    """A command kept colliding with concurrent writers and was given up."""


def event_store_url(database_url: str) -> str:
    """SQLite writers wait for each other (30 s) instead of failing at once."""
    if database_url.startswith("sqlite") and "timeout=" not in database_url:
        sep = "&" if "?" in database_url else "?"
        return f"{database_url}{sep}timeout=30"
    return database_url


class Parley(Application[UUID]):
    """All of Parley's aggregates live in one append-only store and one notification log."""

    name = "Parley"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {User: 50}

    def __init__(self, database_url: str) -> None:
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                "SQLALCHEMY_URL": event_store_url(database_url),
                "CREATE_TABLE": "y",
            }
        )

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
