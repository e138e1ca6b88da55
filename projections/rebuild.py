"""Rebuild a projection from position 0 into fresh tables, then swap them in."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, delete, text, update

from projections.log import EventStore, Log
from projections.parallel import fill_in_parallel
from projections.replay import SUFFIX, shadow_tables, windows
from projections.runner import WINDOW, Projection, apply_batch, read_position
from projections.tables import positions

T = TypeVar("T")
# A position row counting how often the projection's tables were swapped for rebuilt ones,
# for readers that hold a copy of them (queries/audience/).
SWAPS = "__swaps"
Progress = Callable[[int], None]


def rebuild(
    store: EventStore,
    engine: Engine,
    projection: Projection,
    progress: Progress = lambda _n: None,
    processes: int | None = None,
) -> int:
    """Replay every event into fresh tables and swap them in; return the log position reached.

    Live runners keep serving the old tables until the swap, which takes their position
    lock, so readers never see a half-built table. On PostgreSQL, `processes` > 1 splits
    the bulk of the replay by aggregate over that many processes (default: one per core).
    """
    if processes is None:
        processes = os.cpu_count() or 1
    shadows = shadow_tables(projection)
    tracking = projection.name + SUFFIX
    with engine.begin() as conn:
        for table in shadows.values():
            table.drop(conn, checkfirst=True)
            table.create(conn)
        conn.execute(delete(positions).where(positions.c.name == tracking))
    events_log = Log(store)
    position = 0
    if processes > 1 and projection.per_aggregate and engine.dialect.name == "postgresql":
        position = fill_in_parallel(
            type(store), engine, projection, events_log.head(), processes, progress
        )
        with engine.begin() as conn:
            _track(conn, tracking, position)
    # Reading (database, then decoding) and writing overlap: the next window is read
    # while this one is applied. Only this rebuild writes the shadow tables and position.
    for events, reached in prefetched(windows(events_log, projection, position, events_log.head())):
        with engine.begin() as conn:
            projection.apply(conn, events, shadows)
            _track(conn, tracking, reached)
        progress(reached - position)
        position = reached

    def replay(conn: Connection) -> None:
        nonlocal position
        reached = apply_batch(
            conn, events_log, projection, shadows, tracking, events_log.head(), WINDOW
        )
        progress(reached - position)
        position = reached

    with engine.begin() as conn:
        # Writers may have appended meanwhile: finish under the live position's lock.
        read_position(conn, projection.name, lock=True)
        while position < events_log.head():
            replay(conn)
        final = read_position(conn, tracking)
        _swap(conn, projection, shadows)
        swaps = projection.name + SWAPS
        _track(conn, swaps, read_position(conn, swaps) + 1)
        conn.execute(
            update(positions).where(positions.c.name == projection.name).values(position=final)
        )
        conn.execute(delete(positions).where(positions.c.name == tracking))
    return final


def prefetched(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Items of `source`, produced by a background thread up to `depth` ahead."""
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for item in source:
                ready.put((True, item))
            ready.put((False, None))
        except BaseException as error:
            ready.put((False, error))

    threading.Thread(target=produce, name="rebuild-reader", daemon=True).start()
    while True:
        more, item = ready.get()
        if not more:
            if item is not None:
                raise item
            return
        yield item


def _track(conn: Connection, name: str, position: int) -> None:
    read_position(conn, name)
    conn.execute(update(positions).where(positions.c.name == name).values(position=position))


def _swap(conn: Connection, projection: Projection, shadows: dict[str, Table]) -> None:
    postgres = conn.dialect.name == "postgresql"
    for table in projection.tables:
        shadow = shadows[table.name]
        table.drop(conn)
        conn.execute(text(f'ALTER TABLE "{shadow.name}" RENAME TO "{table.name}"'))
        if postgres:
            conn.execute(
                text(
                    f'ALTER TABLE "{table.name}" RENAME CONSTRAINT '
                    f'"{shadow.name}_pkey" TO "{table.name}_pkey"'
                )
            )
        for index in table.indexes:
            index.create(conn)
