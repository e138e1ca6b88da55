"""Rebuild a projection from position 0 into fresh tables, then swap them in."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, MetaData, Table, delete, text, update

from commands.store import Parley
from projections.log import Log
from projections.runner import WINDOW, Projection, apply_batch, read_position
from projections.tables import positions

SUFFIX = "__rebuild"
Progress = Callable[[int], None]


def _shadow(table: Table, metadata: MetaData) -> Table:
    """A copy of `table` under another name, without secondary indexes (built after the fill)."""
    copy = table.to_metadata(metadata, name=table.name + SUFFIX)
    copy.indexes.clear()
    return copy


def rebuild(
    store: Parley,
    engine: Engine,
    projection: Projection,
    progress: Progress = lambda _n: None,
) -> int:
    """Replay every event into fresh tables and swap them in; return the log position reached.

    Live runners keep serving the old tables until the swap, which takes their position
    lock, so readers never see a half-built table.
    """
    shadow_md = MetaData()
    shadows = {t.name: _shadow(t, shadow_md) for t in projection.tables}
    tracking = projection.name + SUFFIX
    with engine.begin() as conn:
        for table in shadows.values():
            table.drop(conn, checkfirst=True)
            table.create(conn)
        conn.execute(delete(positions).where(positions.c.name == tracking))
    events_log = Log(store)
    position = 0

    def replay(conn: Connection) -> None:
        nonlocal position
        reached = apply_batch(
            conn, events_log, projection, shadows, tracking, events_log.head(), WINDOW
        )
        progress(reached - position)
        position = reached

    while position < events_log.head():
        with engine.begin() as conn:
            replay(conn)
    with engine.begin() as conn:
        # Writers may have appended meanwhile: finish under the live position's lock.
        read_position(conn, projection.name, lock=True)
        while position < events_log.head():
            replay(conn)
        final = read_position(conn, tracking)
        _swap(conn, projection, shadows)
        conn.execute(
            update(positions).where(positions.c.name == projection.name).values(position=final)
        )
        conn.execute(delete(positions).where(positions.c.name == tracking))
    return final


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
