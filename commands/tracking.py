"""Tracked events: what users do in the product, recorded as events of the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from commands.apps import check_snippet_user
from commands.clock import Clock
from commands.store import Parley
from commands.users import find_named_user
from domain.user import User
from domain.values import CustomValue


@dataclass(frozen=True)
class TrackEvent:
    """`POST /events` or `Intercom('trackEvent', name, metadata)` from the snippet."""

    app_id: str
    event_name: str
    id: str | None = None
    user_id: str | None = None
    email: str | None = None
    created_at: int | None = None  # seconds since the epoch; None means now
    metadata: dict[str, CustomValue] = field(default_factory=dict)
    user_hash: str | None = None  # from the snippet, checked in secure mode


def track_event(cmd: TrackEvent, store: Parley, clock: Clock, from_snippet: bool = False) -> int:
    """Record the event on the user it names (who must exist); return the log position."""
    return store.save_all(tracking(cmd, store, clock, from_snippet))


def tracking(cmd: TrackEvent, store: Parley, clock: Clock, from_snippet: bool = False) -> User:
    """The user with the event tracked, not yet saved (a bulk import saves a chunk's together)."""
    if from_snippet:
        check_snippet_user(store, cmd.app_id, cmd.user_id, cmd.email, cmd.user_hash)
    user = find_named_user(store, cmd.app_id, id=cmd.id, user_id=cmd.user_id, email=cmd.email)
    at = clock.now() if cmd.created_at is None else datetime.fromtimestamp(cmd.created_at, UTC)
    user.track(cmd.event_name, at, cmd.metadata, by="snippet" if from_snippet else "api")
    return user
