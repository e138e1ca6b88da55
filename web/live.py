"""Live updates for open dashboards: one thread per web process follows the log behind the
conversations projection and wakes the app's open streams (web/dashboard/stream.py).

The thread reads only what the projection has applied, so a dashboard told of a change at
log position P and reading the inbox then finds it. It runs while some stream listens, and
keeps the latest changes in memory; a stream resuming from further back (`Last-Event-ID`
older than that) reads its app's changes from the database instead, so none is missed.

Streams are capped per process (`LIVE_STREAMS`): `parley serve` gives gunicorn that many
threads on top of `WEB_THREADS`, so however many dashboards are open, the threads that serve
snippet pings and pages stay free. A stream over the cap gets what is new and is told to come
back later, as a poll would be.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from projections.log import Log
from queries.conversations import changed_conversations, projected_position

log = logging.getLogger(__name__)
KEPT = 20_000  # changes kept in memory for streams that fall behind or reconnect


@dataclass(frozen=True)
class Changes:
    """What changed in one app's conversations up to a log position (none: only time passed)."""

    position: int
    conversations: frozenset[str]


class Feed:
    def __init__(self, engine: Engine, events: Log, limit: int, poll: float = 0.1) -> None:
        self.engine = engine
        self.events = events
        self.limit = limit
        self.poll = poll
        self._changes: deque[tuple[int, str, str]] = deque(maxlen=KEPT)
        self._reached = -1  # the log position read up to; -1 before the thread's first look
        self._since = 0  # changes after this position are all in memory
        self._listening = 0
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- streams ----------------------------------------------------------------------------

    @contextmanager
    def listening(self) -> Iterator[bool]:
        """Count a stream while it lasts; False (nothing counted) when the cap is reached."""
        with self._cond:
            if self._listening >= self.limit or self.closed:
                admitted = False
            else:
                admitted = True
                self._listening += 1
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="live", daemon=True)
                    self._thread.start()
        try:
            yield admitted
        finally:
            if admitted:
                with self._cond:
                    self._listening -= 1

    def position(self) -> int:
        """How far the dashboard's inbox is current: where a new page's stream starts."""
        with self.engine.connect() as conn:
            return projected_position(conn)

    def wait(self, app_id: str, after: int, timeout: float) -> Changes | None:
        """This app's changes after `after`, as soon as there are some; None on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._reached >= 0 or self.closed, timeout):
                return None
            if self.closed:
                return None
            behind, upto = after < self._since, self._reached
            if not behind:
                self._cond.wait_for(
                    lambda: self.closed or self._of(app_id, after) is not None, timeout
                )
                return None if self.closed else self._of(app_id, after)
        found = self._from_database(app_id, after, upto)  # outside the lock: it takes a while
        return found if found.conversations else Changes(upto, frozenset())

    def since(self, app_id: str, after: int) -> Changes:
        """This app's changes after `after`, read from the database now (no waiting)."""
        return self._from_database(app_id, after, self.position())

    def _of(self, app_id: str, after: int) -> Changes | None:
        ids: set[str] = set()
        for at, app, conversation in reversed(self._changes):  # newest first: only the new
            if at <= after:
                break
            if app == app_id:
                ids.add(conversation)
        return Changes(self._reached, frozenset(ids)) if ids else None

    def _from_database(self, app_id: str, after: int, upto: int) -> Changes:
        with self.engine.connect() as conn:
            found = changed_conversations(conn, self.events, after, upto, app_id)
        return Changes(upto, frozenset(c for _, _, c in found))

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                if self._listening == 0:
                    self._thread = None
                    self._reached = -1
                    return
            try:
                self._look()
            except Exception:
                log.exception("live feed could not read the log; trying again")
                self._stopping.wait(1.0)
            self._stopping.wait(self.poll)

    def _look(self) -> None:
        with self.engine.connect() as conn:
            upto = projected_position(conn)
            if self._reached < 0:
                with self._cond:
                    self._changes.clear()
                    self._reached = self._since = upto
                    self._cond.notify_all()
                return
            if upto <= self._reached:
                return
            found = changed_conversations(conn, self.events, self._reached, upto)
        with self._cond:
            dropping = len(self._changes) + len(found) > KEPT
            self._changes.extend(found)
            if dropping:  # what fell off the front is read from the database when needed
                self._since = self._changes[0][0] - 1
            self._reached = upto
            self._cond.notify_all()

    def rest(self, seconds: float) -> None:
        """Let a stream pause (cut short when the process stops)."""
        self._stopping.wait(seconds)

    @property
    def closed(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Shutting down: every stream ends now (browsers come back to another process)."""
        with self._cond:
            self._stopping.set()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
