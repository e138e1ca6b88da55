"""Group commit: concurrent appends share transactions, and a conflict fails only its owner."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from commands.apps import CreateApp, create_app
from commands.group_commit import GroupCommit
from commands.recorders import Recorder
from tests.helpers import ping, user_rows
from web.bootstrap import Services


def stored(owner: uuid.UUID, version: int = 1) -> StoredEvent:
    return StoredEvent(originator_id=owner, originator_version=version, topic="t", state=b"{}")


class SlowLog:
    """Stands in for the events table: each write takes a while, like a flushed commit."""

    def __init__(self, taken: set[tuple[uuid.UUID | str, int]] | None = None) -> None:
        self.rows: list[StoredEvent] = []
        self.writes: list[int] = []
        self.taken = taken or set()
        self.lock = threading.Lock()

    def write(self, events: Sequence[StoredEvent]) -> list[int]:
        time.sleep(0.01)
        with self.lock:
            keys = {(e.originator_id, e.originator_version) for e in events}
            if keys & self.taken:
                raise IntegrityError("version taken")
            self.taken |= keys
            self.writes.append(len(events))
            start = len(self.rows)
            self.rows.extend(events)
            return list(range(start + 1, start + 1 + len(events)))


def append_together(group: GroupCommit, batches: list[list[StoredEvent]]) -> list[object]:
    outcomes: list[object] = [None] * len(batches)
    start = threading.Barrier(len(batches))

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = group.append(batches[i])
        except IntegrityError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_appends_share_commits_and_each_gets_its_own_positions() -> None:
    log = SlowLog()
    group = GroupCommit(log.write)
    batches = [[stored(uuid.uuid4()), stored(uuid.uuid4())] for _ in range(20)]
    outcomes = append_together(group, batches)
    assert len(log.writes) < 20  # some commits carried several appends
    assert sum(log.writes) == 40
    for batch, ids in zip(batches, outcomes, strict=True):
        assert isinstance(ids, list)
        assert [log.rows[i - 1] for i in ids] == batch  # positions point at its own events


def test_a_conflicting_append_fails_alone() -> None:
    stale = uuid.uuid4()
    log = SlowLog(taken={(stale, 1)})
    group = GroupCommit(log.write)
    batches = [[stored(uuid.uuid4())] for _ in range(9)] + [[stored(stale)]]
    outcomes = append_together(group, batches)
    assert isinstance(outcomes[-1], IntegrityError)
    assert all(isinstance(o, list) for o in outcomes[:-1])
    assert len(log.rows) == 9


def test_a_lone_append_commits_at_once() -> None:
    log = SlowLog()
    assert GroupCommit(log.write).append([stored(uuid.uuid4())]) == [1]
    assert log.writes == [1]


def test_pings_from_many_threads_of_one_process_share_transactions(
    pg_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = pg_services
    app = create_app(CreateApp("Busy"), services.store, services.clock)
    recorder = services.store.recorder
    assert isinstance(recorder, Recorder)
    transactions: list[int] = []
    original = recorder._append

    def counted(events: Sequence[StoredEvent]) -> list[int]:
        transactions.append(len(events))
        return original(events)

    monkeypatch.setattr(recorder.group_commit, "_write", counted)
    start = threading.Barrier(12)
    errors: list[BaseException] = []

    def visitor(n: int) -> None:
        start.wait()
        try:
            for page in range(5):
                ping(services, app.app_id, {"user_id": f"v{n}"}, url=f"https://a.example/{page}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(transactions) < 60
    rows = user_rows(services, app.app_id)
    assert sorted(r["impressions"] for r in rows) == [5] * 12
