"""Saving, changing and deleting segments (saved filters)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commands.clock import Clock
from commands.errors import SegmentNotFound
from commands.store import Parley
from domain.filters import Filter, to_json
from domain.segments import Segments, segments_key


@dataclass(frozen=True)
class SaveSegment:
    """Create (no id) or change (id) a segment; a change may give a name, a filter or both."""

    app_id: str
    name: str | None
    filter: Filter | None
    id: str | None = None


@dataclass(frozen=True)
class SavedSegment:
    id: str
    position: int


def app_segments(store: Parley, app_id: str) -> Segments | None:
    return store.get_as(Segments, segments_key(app_id))


def save_segment(cmd: SaveSegment, store: Parley, clock: Clock) -> SavedSegment:
    """Create (no id) or change (id) a segment."""
    segments = app_segments(store, cmd.app_id)
    definition: dict[str, Any] | None = to_json(cmd.filter) if cmd.filter else None
    if cmd.id is None:
        segments = segments or Segments(app_id=cmd.app_id)
        assert cmd.name is not None and definition is not None
        segment_id = segments.create(cmd.name, definition, clock.now())
    else:
        if segments is None or cmd.id not in segments.names:
            raise SegmentNotFound(f"segment {cmd.id!r}")
        segment_id = cmd.id
        segments.change(segment_id, cmd.name, definition, clock.now())
    return SavedSegment(segment_id, store.save_all(segments))


@dataclass(frozen=True)
class DeleteSegment:
    app_id: str
    id: str


def delete_segment(cmd: DeleteSegment, store: Parley, clock: Clock) -> int:
    segments = app_segments(store, cmd.app_id)
    if segments is None or cmd.id not in segments.names:
        raise SegmentNotFound(f"segment {cmd.id!r}")
    segments.delete(cmd.id, clock.now())
    return store.save_all(segments)
