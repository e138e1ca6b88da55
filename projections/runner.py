"""Runs projections over the notification log: each batch of rows and its position commit
together, so a crash never double-counts or skips an event."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.exc import IntegrityError

from commands.store import Parley
from projections.tables import positions

log = logging.getLogger(__name__)


class Projection(Protocol):
    name: str
    tables: tuple[Table, ...]

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None: ...


def live_tables(projection: Projection) -> dict[str, Table]:
    return {t.name: t for t in projection.tables}


def read_position(conn: Connection, name: str, *, lock: bool = False) -> int:
    """The tracked position, creating it at 0; with `lock`, held until the transaction ends."""
    query = select(positions.c.position).where(positions.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).scalar()
    if found is not None:
        return int(found)
    try:
        with conn.begin_nested():
            conn.execute(positions.insert().values(name=name, position=0))
    except IntegrityError:
        pass  # another runner created it first
    return int(conn.execute(query).scalar() or 0)


def apply_batch(
    conn: Connection,
    store: Parley,
    projection: Projection,
    tables: dict[str, Table],
    tracking_name: str,
    limit: int,
) -> int:
    """Apply the next batch inside the caller's transaction; return how many events it read."""
    position = read_position(conn, tracking_name, lock=True)
    notifications = store.recorder.select_notifications(start=position + 1, limit=limit)
    if not notifications:
        return 0
    events = [store.mapper.to_domain_event(n) for n in notifications]
    projection.apply(conn, events, tables)
    conn.execute(
        update(positions)
        .where(positions.c.name == tracking_name)
        .values(position=notifications[-1].id)
    )
    return len(notifications)


class Runner:
    """Keeps projections up to date; several runners may share a database safely."""

    def __init__(
        self, store: Parley, engine: Engine, projections: Sequence[Projection], batch: int = 500
    ) -> None:
        self.store = store
        self.engine = engine
        self.projections = list(projections)
        self.batch = batch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, projection: Projection) -> int:
        with self.engine.begin() as conn:
            return apply_batch(
                conn, self.store, projection, live_tables(projection), projection.name, self.batch
            )

    def catch_up(self) -> int:
        """Process everything recorded so far; return how many events were applied."""
        total = 0
        for projection in self.projections:
            while (count := self.step(projection)) > 0:
                total += count
        return total

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(positions.c.name, positions.c.position)).all()
        found: dict[str, int] = {name: position for name, position in rows}
        return {p.name: int(found.get(p.name, 0)) for p in self.projections}

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: wait until every projection has reached `position`."""
        deadline = time.monotonic() + timeout
        while True:
            if min(self.positions().values(), default=position) >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            self.wake.set()
            time.sleep(0.005)

    def run(self, idle_wait: float = 0.2) -> None:
        """Follow the log until stopped; database errors are logged and retried with backoff."""
        backoff = idle_wait
        while not self.stopping.is_set():
            try:
                worked = self.catch_up()
                backoff = idle_wait
            except Exception:
                log.exception("projection runner failed; retrying in %.1fs", backoff)
                worked = 0
                backoff = min(backoff * 2, 5.0)
            if not worked:
                self.wake.wait(backoff)
                self.wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="projections", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
