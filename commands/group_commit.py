"""Group commit: appends from concurrent threads share one transaction.

Every append to the events table takes its lock until commit, so the commit (a disk flush)
is the write path's ceiling. Threads that arrive while a commit is in flight queue up; the
next leader writes all of them in one transaction. Nothing waits on purpose: a lone writer
commits at once, a busy process commits in batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from eventsourcing.persistence import IntegrityError, StoredEvent

Write = Callable[[Sequence[StoredEvent]], list[int]]


class _Append:
    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = list(events)
        self.signal = threading.Event()
        self.finished = False
        self.ids: list[int] = []
        self.error: BaseException | None = None

    def result(self) -> list[int]:
        if self.error is not None:
            raise self.error
        return self.ids


class GroupCommit:
    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[_Append] = []
        self._leading = False

    def append(self, events: Sequence[StoredEvent]) -> list[int]:
        """Append atomically (all of `events` or none); return their log positions."""
        mine = _Append(events)
        with self._lock:
            self._queue.append(mine)
            leader = not self._leading
            self._leading = True
        if not leader:
            mine.signal.wait()
            if mine.finished:
                return mine.result()
        with self._lock:
            batch, self._queue = self._queue, []
        self._commit(batch)
        with self._lock:
            if self._queue:
                self._queue[0].signal.set()  # the next leader
            else:
                self._leading = False
        return mine.result()

    def _commit(self, batch: list[_Append]) -> None:
        try:
            ids = self._write([e for append in batch for e in append.events])
        except IntegrityError as conflict:
            # Someone's version was taken: write each alone so only the stale one fails.
            if len(batch) == 1:
                batch[0].error = conflict
            else:
                for append in batch:
                    self._commit_alone(append)
        except BaseException as error:
            for append in batch:
                append.error = error
        else:
            start = 0
            for append in batch:
                append.ids = ids[start : start + len(append.events)]
                start += len(append.events)
        for append in batch:
            append.finished = True
            append.signal.set()

    def _commit_alone(self, append: _Append) -> None:
        try:
            append.ids = self._write(append.events)
        except BaseException as error:
            append.error = error
