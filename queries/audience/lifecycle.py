"""The audience indexes' lifecycle: which apps get one, built in the background on first
use, kept fresh by a thread, dropped when idle, failed or rebuilt under them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime

from sqlalchemy import Connection, Engine

from domain.filters import Filter
from projections.log import Log
from queries.audience.evaluation import Segments
from queries.audience.following import AudienceIndex, Rebuilt, app_size

LOG = logging.getLogger("queries.audience_index")
LOCK_WAIT = 0.2  # seconds a request waits for an index another thread is refreshing


class AudienceIndexes:
    """The indexes of the apps with at least `min_users` users (None: none; every count is
    SQL's), each built in the background on first use.

    A request never waits long on an index: when another thread holds it, when more than
    `request_limit` users changed since it last looked, or when it fails, SQL counts. A
    thread re-reads what changed every `refresh_seconds` (the large catch-ups too), so that
    requests only catch up on the last few seconds. An index whose projections were rebuilt
    is built again; one that failed is dropped and built again after `retry_seconds`; one
    unused for `idle_seconds` is dropped, to be built again if asked."""

    def __init__(
        self,
        engine: Engine,
        log: Log,
        min_users: int | None,
        refresh_seconds: float = 5.0,
        idle_seconds: float = 3600.0,
        request_limit: int = 20_000,
        retry_seconds: float = 600.0,
    ) -> None:
        self.engine = engine
        self.log = log
        self.min_users = min_users
        self.refresh_seconds = refresh_seconds
        self.idle_seconds = idle_seconds
        self.request_limit = request_limit
        self.retry_seconds = retry_seconds
        self._ready: dict[str, AudienceIndex] = {}
        self._used: dict[str, float] = {}
        self._failed: dict[str, float] = {}
        self._building: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None

    def count(
        self, conn: Connection, app_id: str, f: Filter, now: datetime, segments: Segments
    ) -> int | None:
        """The exact number of the app's users `f` matches, or None: count it in SQL."""
        found = self.search(conn, app_id, f, now, segments)
        return None if found is None else found[0]

    def search(
        self,
        conn: Connection,
        app_id: str,
        f: Filter,
        now: datetime,
        segments: Segments,
        first: tuple[str, bool, int] | None = None,
    ) -> tuple[int, list[str] | None] | None:
        """How many of the app's users `f` matches and, for `first` = (sort, descending,
        size), the ids of the list's first page (None: SQL reads it); None: SQL does both."""
        index = self.ready(conn, app_id)
        if index is None or not index.covers(f, segments):
            return None
        if not index.lock.acquire(timeout=LOCK_WAIT):
            return None  # another thread is catching it up
        try:
            if not index.refresh(conn, self.log, self.request_limit):
                return None
            return index.listing(f, now, segments, first)
        except Exception as error:
            conn.rollback()  # SQL counts on this connection next
            self._drop(index, error)
            return None
        finally:
            index.lock.release()

    def ready(self, conn: Connection, app_id: str) -> AudienceIndex | None:
        if self.min_users is None or self._stopped.is_set():
            return None
        with self._lock:
            index = self._ready.get(app_id)
            if index is not None:
                self._used[app_id] = time.monotonic()
                return index
            if app_id in self._building:
                return None
            if time.monotonic() - self._failed.get(app_id, -math.inf) < self.retry_seconds:
                return None
        if app_size(conn, app_id) >= self.min_users:
            self.start(app_id)
        return None

    def start(self, app_id: str) -> threading.Thread | None:
        """Build the app's index in the background (None: it is built already)."""
        with self._lock:
            if app_id in self._ready:
                return None
            thread = self._building.get(app_id)
            if thread is None:
                thread = threading.Thread(
                    target=self._build, args=(app_id,), name=f"index-{app_id}", daemon=True
                )
                self._building[app_id] = thread
                thread.start()
            return thread

    def build(self, app_id: str) -> AudienceIndex:
        """Build the app's index now (tests, benchmarks) and use it from then on."""
        thread = self.start(app_id)
        if thread is not None:
            thread.join()
        with self._lock:
            index = self._ready.get(app_id)
        if index is None:
            raise RuntimeError(f"the audience index of {app_id} could not be built (logged)")
        return index

    def _build(self, app_id: str) -> None:
        index = AudienceIndex(app_id)
        try:
            index.build(self.engine)
        except Exception:
            LOG.exception("building the audience index of %s failed; SQL counts", app_id)
            with self._lock:
                self._building.pop(app_id, None)
                self._failed[app_id] = time.monotonic()
            return
        with self._lock:
            self._building.pop(app_id, None)
            if self._stopped.is_set():
                return
            self._ready[app_id] = index
            self._used[app_id] = time.monotonic()
            if self._refresher is None and self.refresh_seconds > 0:
                self._refresher = threading.Thread(
                    target=self._keep_fresh, name="index-refresher", daemon=True
                )
                self._refresher.start()

    def _drop(self, index: AudienceIndex, error: Exception) -> None:
        """Forget a stale or broken index: build a rebuilt projection's again at once, a
        failed one after `retry_seconds`."""
        app_id = index.app_id
        with self._lock:
            if self._ready.get(app_id) is index:
                del self._ready[app_id]
                self._used.pop(app_id, None)
        if isinstance(error, Rebuilt):
            LOG.info("the projections were rebuilt: building the audience index of %s", app_id)
            self.start(app_id)
        else:
            LOG.error("the audience index of %s failed; SQL counts", app_id, exc_info=error)
            with self._lock:
                self._failed[app_id] = time.monotonic()

    def _keep_fresh(self) -> None:
        while not self._stopped.wait(self.refresh_seconds):
            with self._lock:
                idle = time.monotonic() - self.idle_seconds
                for app_id in [a for a, used in self._used.items() if used < idle]:
                    self._ready.pop(app_id, None)
                    self._used.pop(app_id, None)
                held = list(self._ready.values())
            for index in held:
                try:
                    with self.engine.connect() as conn, index.lock:
                        index.refresh(conn, self.log)
                except Exception as error:
                    self._drop(index, error)

    def stop(self) -> None:
        """Stop refreshing; wait for builds under way (they read the database)."""
        self._stopped.set()
        with self._lock:
            building = list(self._building.values())
        for thread in building:
            thread.join()
        if self._refresher is not None:
            self._refresher.join()
