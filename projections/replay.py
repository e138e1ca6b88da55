"""What a replay of the log into fresh tables needs, in one process or several: the shadow
copies of a projection's tables and the log read a window at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import MetaData, Table

from projections.log import Log
from projections.runner import Projection

SUFFIX = "__rebuild"
# A replay reads bigger windows than the live runner: each window loads and writes back the
# rows it touches once, so fewer windows mean fewer round trips of the same rows.
REPLAY_WINDOW = 60_000


def _shadow(table: Table, metadata: MetaData) -> Table:
    """A copy of `table` under another name, without secondary indexes (built after the fill)."""
    copy = table.to_metadata(metadata, name=table.name + SUFFIX)
    copy.indexes.clear()
    return copy


def shadow_tables(projection: Projection) -> dict[str, Table]:
    shadow_md = MetaData()
    return {t.name: _shadow(t, shadow_md) for t in projection.tables}


def windows(
    events_log: Log,
    projection: Projection,
    start: int,
    head: int,
    share: tuple[int, int] | None = None,
) -> Iterator[tuple[list[Any], int]]:
    """The projection's events in (start, head], a window at a time, with the position reached."""
    position = start
    while position < head:
        until = min(head, position + REPLAY_WINDOW)
        events, position = events_log.read(position, until, projection.topics, REPLAY_WINDOW, share)
        yield events, position
