"""The event store: an eventsourcing application on SQLAlchemy (SQLite or PostgreSQL)."""

from __future__ import annotations

import time
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate

from commands.recorders import Recorder, StoreFactory
from domain.user import User

A = TypeVar("A", bound=Aggregate)


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
                "PERSISTENCE_MODULE": "commands.recorders:StoreFactory",
                "SQLALCHEMY_URL": database_url,
                "CREATE_TABLE": "y",
            }
        )
        self._recent: dict[UUID, tuple[float, Any]] = {}

    def close(self) -> None:
        super().close()
        if isinstance(self.factory, StoreFactory):
            self.factory.datastore.dispose()

    def recent(self, kind: type[A], aggregate_id: UUID, max_age: float = 2.0) -> A | None:
        """An aggregate for read-only checks, reloaded when older than `max_age` seconds.

        Apps are read on every ping and API call but change rarely (keys, secure mode):
        a change reaches every process within `max_age`.
        """
        now = time.monotonic()
        held = self._recent.get(aggregate_id)
        if held is not None and now - held[0] < max_age:
            return held[1] if isinstance(held[1], kind) else None
        found = self.get_as(kind, aggregate_id)
        self._recent[aggregate_id] = (now, found)  # absent ones too: asked on every ping
        return found

    def find(self, aggregate_id: UUID) -> Any | None:
        """The aggregate with this id, or None when nothing was ever recorded under it."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def cached(self, aggregate_id: UUID) -> bool:
        """Whether this process holds the aggregate (loading it is then one short query)."""
        cache = self.repository.cache
        return cache is not None and aggregate_id in cache.cache

    def recorded_among(self, *aggregate_ids: UUID) -> set[UUID]:
        """Which of these ids were ever recorded under: one query, for ids usually unused."""
        assert isinstance(self.recorder, Recorder)
        return self.recorder.created_among(aggregate_ids)

    def get_as(self, kind: type[A], aggregate_id: UUID) -> A | None:
        found = self.find(aggregate_id)
        return found if isinstance(found, kind) else None

    def head(self) -> int:
        """Position of the newest event in the notification log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def save_all(self, *aggregates: Aggregate | None) -> int:
        """Append the pending events of all aggregates atomically; return the last position.

        The saved aggregates go into the cache as they now stand, so this process's next
        command on them reads only newer events (eventsourcing caches on load only when it
        fast-forwards). Callers must not change an aggregate after saving it.
        """
        recordings = self.save(*aggregates)
        cache = self.repository.cache
        for aggregate in aggregates:
            if aggregate is not None:
                self._recent.pop(aggregate.id, None)
                if cache is not None:
                    cache.put(aggregate.id, aggregate)
        return max((r.notification.id for r in recordings), default=0)
