"""The event history of one app, for analysts: read from the event store itself, in log order,
limited by position, time and event type, with secrets and key hashes redacted.

Events do not all name their app: a user's later events, an alias, an email delivery. Each
aggregate's app is found once, from its first event (an alias through its user, a delivery
through its message), and remembered for the rest of the export.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

REDACTED = "[redacted]"
# Fields that must never leave the store: the secure-mode secret (whoever holds it can sign
# any user_hash), key and password hashes, whatever a later event names so.
SECRET_NAMES = frozenset({"secret", "api_key_hash", "password"})
SECRET_SUFFIXES = ("_secret", "_hash", "_password")
APP_CREATED = "domain.app:App.Created"
BATCH = 1000


@dataclass(frozen=True)
class Window:
    """Which events: after log position `after` up to `upto` (inclusive), recorded at or after
    `since` and before `until`, of the given types (`User.Seen`, or `User` for all of a
    user's); None means no limit."""

    after: int = 0
    upto: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()

    def takes_type(self, topic: str) -> bool:
        """`User.Seen`, `User` or the whole topic (`domain.user:User.Seen`) as exported."""
        name = topic.rpartition(":")[2]
        return not self.types or any(
            t in (name, topic) or name.startswith(t + ".") for t in self.types
        )

    def takes_time(self, at: datetime | None) -> bool:
        if at is None:
            return self.since is None and self.until is None
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def app_ids(log: ApplicationRecorder) -> list[str]:
    """Every app the store holds, in the order they were created."""
    found: list[str] = []
    position = 0
    while batch := log.select_notifications(position + 1, BATCH, topics=[APP_CREATED]):
        found.extend(json.loads(n.state)["app_id"] for n in batch)
        position = batch[-1].id
    return found


def redact(value: Any) -> Any:
    """The value with every secret field's content replaced by REDACTED, at any depth."""
    if isinstance(value, dict):
        return {key: REDACTED if _is_secret(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_NAMES or lowered.endswith(SECRET_SUFFIXES)


@dataclass
class AppOf:
    """Which app an aggregate belongs to, looked up once per aggregate."""

    log: ApplicationRecorder
    known: dict[UUID | str, str | None] = field(default_factory=dict)

    def note(self, aggregate_id: UUID | str, version: int, state: dict[str, Any]) -> None:
        if version == 1 and aggregate_id not in self.known:
            self.known[aggregate_id] = self._from_first(state)

    def __call__(self, aggregate_id: UUID | str) -> str | None:
        if aggregate_id not in self.known:
            first = self.log.select_events(aggregate_id, lte=1, limit=1)
            state = json.loads(first[0].state) if first else {}
            self.known[aggregate_id] = self._from_first(state)
        return self.known[aggregate_id]

    def _from_first(self, state: dict[str, Any]) -> str | None:
        if isinstance(state.get("app_id"), str):
            return str(state["app_id"])
        user = state.get("user")  # an alias points at its user
        if isinstance(user, dict) and user.get("_type_") == "uuid_hex":
            return self(UUID(hex=user["_data_"]))
        message_id = state.get("message_id")  # a delivery carries its message
        if isinstance(message_id, str) and state.get("channel") is not None:
            return self(UUID(hex=message_id))
        return None


def recorded_at(state: dict[str, Any]) -> datetime | None:
    stamp = state.get("timestamp")
    if isinstance(stamp, dict) and stamp.get("_type_") == "datetime_iso":
        return datetime.fromisoformat(stamp["_data_"])
    return None


def app_history(log: ApplicationRecorder, app_id: str, window: Window) -> Iterator[dict[str, Any]]:
    """The app's events in `window`, in log order, each as an export record."""
    app_of = AppOf(log)
    position = window.after
    while True:
        limit = BATCH if window.upto is None else min(BATCH, window.upto - position)
        batch = log.select_notifications(position + 1, limit) if limit > 0 else []
        if not batch:
            return
        for n in batch:
            state = json.loads(n.state)
            app_of.note(n.originator_id, n.originator_version, state)
            if not window.takes_type(n.topic) or not window.takes_time(recorded_at(state)):
                continue
            if app_of(n.originator_id) != app_id:
                continue
            yield {
                "position": n.id,
                "app_id": app_id,
                "aggregate_id": str(n.originator_id),
                "version": n.originator_version,
                "topic": n.topic,
                "state": redact(state),
            }
        position = batch[-1].id
