"""Bulk jobs, as Intercom's 2015 bulk API: a list of users (or events) to create, update or
delete, taken at once (the items are recorded with the job, so nothing acknowledged is lost)
and worked through by the workers, a chunk at a time; each chunk's result is recorded with the
users it changed, in the same transaction, so a chunk is never applied twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.identity import NAMESPACE

DATA_TYPES = ("user", "event")
RUNNING, COMPLETED, COMPLETED_WITH_ERRORS = "running", "completed", "completed_with_errors"


class BulkJob(Aggregate):
    @staticmethod
    def create_id(job_id: str) -> UUID:
        return UUID(hex=job_id)

    @classmethod
    def start(
        cls, app_id: str, data_type: str, items: list[dict[str, Any]], at: datetime
    ) -> BulkJob:
        job_id = uuid4().hex
        return cls(job_id=job_id, app_id=app_id, data_type=data_type, items=items, at=at)

    @event("Created")
    def __init__(
        self, job_id: str, app_id: str, data_type: str, items: list[dict[str, Any]], at: datetime
    ) -> None:
        self.job_id = job_id
        self.app_id = app_id
        self.data_type = data_type
        self.items = items
        self.created_at = int(at.timestamp())
        self.done = 0  # items worked through, in order
        self.succeeded = 0
        self.errors: list[dict[str, Any]] = []  # {index, error: {code, message, field?}}
        self.started_at: int | None = None
        self.completed_at: int | None = None

    @property
    def state(self) -> str:
        if self.done < len(self.items):
            return RUNNING
        return COMPLETED_WITH_ERRORS if self.errors else COMPLETED

    @event("ChunkDone")
    def chunk_done(
        self, start: int, count: int, errors: list[dict[str, Any]], at: datetime
    ) -> None:
        """Items [start, start + count) are worked through; `errors` are those refused."""
        seconds = int(at.timestamp())
        self.started_at = self.started_at or seconds
        self.done = start + count
        self.succeeded += count - len(errors)
        self.errors.extend(errors)
        if self.done >= len(self.items):
            self.completed_at = seconds


def bulk_queue_key(app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/bulk")


class BulkQueue(Aggregate):
    """An app's bulk jobs not yet done, in the order they were taken: the workers do them one
    after another (a later job's updates and deletes must find what an earlier one created)."""

    @staticmethod
    def create_id(app_id: str) -> UUID:
        return bulk_queue_key(app_id)

    @event("Started")
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.jobs: list[str] = []

    @event("Queued")
    def queue(self, job_id: str) -> None:
        self.jobs.append(job_id)

    def finish(self, job_id: str) -> None:
        if job_id in self.jobs:
            self._finished(job_id)

    @event("Finished")
    def _finished(self, job_id: str) -> None:
        self.jobs.remove(job_id)
