"""Runs projections over the notification log: each batch of rows and its position commit
together, so a crash never double-counts or skips an event."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from projections.log import EventStore, Log
from projections.tables import positions

log = logging.getLogger(__name__)

# How far past its position one batch of a projection looks, and how many of the events
# there it applies at most. Events it ignores cost nothing but the window.
WINDOW = 20_000
BATCH = 2_000


class Projection(Protocol):
    name: str
    tables: tuple[Table, ...]
    topics: tuple[str, ...]
    # True when each event changes only rows of its own aggregate, so that a rebuild may
    # replay disjoint sets of aggregates side by side.
    per_aggregate: bool

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
    events_log: Log,
    projection: Projection,
    tables: dict[str, Table],
    tracking_name: str,
    head: int,
    batch: int = BATCH,
) -> int:
    """Apply the next batch inside the caller's transaction; return the new position."""
    position = read_position(conn, tracking_name, lock=True)
    until = min(head, position + WINDOW)
    if until <= position:
        return position
    events, reached = events_log.read(position, until, projection.topics, batch)
    if events:
        projection.apply(conn, events, tables)
    conn.execute(
        update(positions).where(positions.c.name == tracking_name).values(position=reached)
    )
    return reached


def stored_positions(engine: Engine) -> dict[str, int]:
    """Every follower of the log that has a position yet, and where it stands."""
    with engine.connect() as conn:
        rows = conn.execute(select(positions.c.name, positions.c.position)).all()
    return {name: int(position) for name, position in rows}


def tracked_positions(engine: Engine, names: Sequence[str]) -> dict[str, int]:
    """Where each of these followers of the log stands (0 before its first batch)."""
    found = stored_positions(engine)
    return {name: found.get(name, 0) for name in names}


# A waiting request's pass gives up on a position another runner holds after this long (it
# is applying that batch; the request polls instead), so a stalled runner cannot hold a write
# past its wait. PostgreSQL's lock_not_available, which lock_timeout raises.
HELP_LOCK_MS = 200
LOCK_NOT_AVAILABLE = "55P03"


def _bounded_lock_wait(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{HELP_LOCK_MS}ms'")


class Runner:
    """Keeps projections up to date; several runners may share a database safely.

    With `helps`, a process whose projections another process runs (`parley serve`'s web
    workers, beside its runner) applies the batches a read-your-writes wait needs itself,
    one thread at a time: the runner it waits for is in another process, which a wake
    cannot reach, and which looks at the log only every `idle_wait`.
    """

    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        projections: Sequence[Projection],
        *,
        helps: bool = False,
    ) -> None:
        self.store = store
        self.helps = helps
        self._helping = threading.Lock()
        self.log = Log(store)
        self.engine = engine
        self.projections = list(projections)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._known: dict[str, int] = {}
        self._thread: threading.Thread | None = None

    def step(self, projection: Projection, head: int) -> int:
        with self.engine.begin() as conn:
            reached = apply_batch(
                conn, self.log, projection, live_tables(projection), projection.name, head
            )
        self._known[projection.name] = reached
        return reached

    def one_pass(self) -> bool:
        """One batch of each projection that is behind; True when some are still behind."""
        head = self.log.head()
        behind = [p for p in self.projections if self._known.get(p.name, -1) < head]
        for projection in behind:
            self.step(projection, head)
        return any(self._known.get(p.name, -1) < head for p in self.projections)

    def _pass_together(self) -> None:
        """A batch of each projection behind, at what a waiting request can afford: the
        projections none of whose topics occur in the window are moved past it in one
        statement; the others apply their batch in one transaction (one commit, not one a
        projection). Their position rows are locked in the projections' order and other
        runners hold one at a time, so no two wait for each other in a cycle."""
        head = self.log.head()
        found = stored_positions(self.engine)
        where = {p.name: found.get(p.name, 0) for p in self.projections}
        after = min(where.values(), default=head)
        if after >= head:
            return
        until = min(head, after + WINDOW)
        present = self.log.topics_between(after, until)
        quiet = [
            p.name
            for p in self.projections
            if p.name in found and where[p.name] < until and present.isdisjoint(p.topics)
        ]
        if quiet:
            with self.engine.begin() as conn:  # no event of theirs up to `until`
                _bounded_lock_wait(conn)
                conn.execute(
                    update(positions)
                    .where(positions.c.name.in_(quiet), positions.c.position < until)
                    .values(position=until)
                )
        reached: dict[str, int] = {}
        with self.engine.begin() as conn:
            _bounded_lock_wait(conn)
            for p in self.projections:
                if where[p.name] < head and p.name not in quiet:
                    reached[p.name] = apply_batch(conn, self.log, p, live_tables(p), p.name, head)
        self._known.update(reached)

    def catch_up(self) -> None:
        """Process everything recorded so far, a batch of each projection in turn."""
        while self.one_pass():
            pass

    def positions(self) -> dict[str, int]:
        return tracked_positions(self.engine, [p.name for p in self.projections])

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: wait until every projection has reached `position`."""
        deadline = time.monotonic() + timeout
        helping = self.helps and self._thread is None
        while True:
            if min(self.positions().values(), default=position) >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            if helping:
                done = self._help()
                if done:
                    continue
                helping = done is not None  # a failed pass is not tried again this wait
            self.wake.set()
            time.sleep(0.005)

    def _help(self) -> bool | None:
        """One pass here, unless another thread of this process is making one (False: it
        is, or another runner holds a projection's position, for longer than HELP_LOCK_MS;
        None: the pass failed). The caller then waits a little, as for another runner."""
        if not self._helping.acquire(blocking=False):
            return False
        try:
            self._pass_together()
            return True
        except Exception as error:
            orig = error.orig if isinstance(error, DBAPIError) else None
            if getattr(orig, "pgcode", None) == LOCK_NOT_AVAILABLE:
                return False
            log.exception("applying projections for a read-your-writes wait failed")
            self._known.clear()
            return None
        finally:
            self._helping.release()

    def run(self, idle_wait: float = 0.1) -> None:
        """Follow the log until stopped; database errors are logged and retried with backoff.

        Once caught up it waits `idle_wait` (or until woken) before looking again, so under
        a steady trickle of pings it applies a few events per batch rather than one.
        """
        backoff = idle_wait
        while not self.stopping.is_set():
            try:
                behind = self.one_pass()
                backoff = idle_wait
            except Exception:
                log.exception("projection runner failed; retrying in %.1fs", backoff)
                self._known.clear()
                behind = False
                backoff = min(max(backoff, 0.2) * 2, 5.0)
            if not behind:
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


class Follower(Runner):
    """Follows the log for work that is not rows of a read model (workers/reactions.py): a
    batch is read, acted on, and only then its position is recorded, each step in its own
    short transaction. Acting may write to the event store, which on SQLite could not happen
    inside the batch's own write transaction. A crash before the position is recorded acts on
    the batch again: at least once, and the work is idempotent."""

    def step(self, projection: Projection, head: int) -> int:
        with self.engine.connect() as conn:
            position = read_position(conn, projection.name)
            conn.commit()
        until = min(head, position + WINDOW)
        if until <= position:
            self._known[projection.name] = position
            return position
        events, reached = self.log.read(position, until, projection.topics, BATCH)
        if events:
            with self.engine.connect() as conn:
                projection.apply(conn, events, {})
        with self.engine.begin() as conn:
            conn.execute(
                update(positions)
                .where(positions.c.name == projection.name, positions.c.position < reached)
                .values(position=reached)
            )
        self._known[projection.name] = reached
        return reached
