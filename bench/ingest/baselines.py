"""Baselines A (a bare eventsourcing save loop) and B (SQLAlchemy Core INSERT + COMMIT):
what the machine's database does without Parley."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from sqlalchemy import BigInteger, Column, Engine, Identity, MetaData, Table, Text, create_engine

from bench.common import say, section
from bench.ingest.settings import PAGE, Settings

# -- running work on threads -------------------------------------------------------------


class Ticket:
    """Hands out 0, 1, 2, ... to any number of threads until `total` is reached."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self.total:
                return None
            self._next += 1
            return self._next - 1


def run_threads(threads: int, work: Callable[[int], None]) -> float:
    """Run `work(thread_index)` on `threads` threads; return the wall-clock seconds taken."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as error:
            errors.append(error)

    pool = [threading.Thread(target=guarded, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- 1. baseline A: bare eventsourcing ---------------------------------------------------


class Tally(Aggregate):
    """The smallest useful aggregate: every increment is one event."""

    @event("Created")
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class BareApp(Application[UUID]):
    name = "BenchBare"


def bare_save_rate(app: BareApp, saves: int, threads: int) -> float:
    """Saves/s of `saves` one-event saves spread over `threads` threads, one aggregate each."""
    shares = split(saves, threads)
    tallies = [Tally() for _ in range(threads)]
    app.save(*tallies)

    def work(index: int) -> None:
        tally = tallies[index]
        for _ in range(shares[index]):
            tally.increment()
            app.save(tally)

    return saves / run_threads(threads, work)


Rate = Callable[[int], float]  # operations -> operations per second


def median_of_rounds(label: str, unit: str, total: int, rounds: int, measure: Rate) -> float:
    """Split `total` operations into `rounds` measurements; print them, return the median."""
    rates = [measure(max(1, total // rounds)) for _ in range(rounds)]
    median = sorted(rates)[len(rates) // 2]
    each = ", ".join(f"{r:,.0f}" for r in rates)
    say(f"{label}: {rounds} rounds of {total // rounds}: {each} -> median {median:,.0f} {unit}")
    return median


def baseline_eventsourcing(url: str, settings: Settings) -> tuple[float, float]:
    section("1. Baseline A: bare eventsourcing save loop (eventsourcing_sqlalchemy)")
    app = BareApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
            "SQLALCHEMY_URL": url,
            "CREATE_TABLE": "y",
        }
    )
    t, n, rounds = settings.threads, settings.saves, settings.rounds
    try:
        bare_save_rate(app, 50, 1)  # warm up connections and code paths
        single = median_of_rounds(
            "1 thread", "saves/s", n, rounds, lambda k: bare_save_rate(app, k, 1)
        )
        many = median_of_rounds(
            f"{t} threads", "saves/s", n, rounds, lambda k: bare_save_rate(app, k, t)
        )
    finally:
        app.close()
    return single, many


# -- 2. baseline B: SQLAlchemy Core INSERTs ----------------------------------------------

PAYLOAD = json.dumps({"at": "2026-01-01T00:00:00+00:00", "url": PAGE})


def insert_rate(engine: Engine, table: Table, rows: int, threads: int) -> float:
    shares = split(rows, threads)

    def work(index: int) -> None:
        for _ in range(shares[index]):
            with engine.begin() as conn:
                conn.execute(table.insert().values(payload=PAYLOAD))

    return rows / run_threads(threads, work)


def baseline_core(url: str, settings: Settings) -> tuple[float, float]:
    section("2. Baseline B: single-row INSERT + COMMIT with SQLAlchemy Core")
    table = Table(
        "bench_rows",
        MetaData(),
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("payload", Text, nullable=False),
    )
    engine = create_engine(url, pool_size=settings.threads)
    t, n, rounds = settings.threads, settings.rows, settings.rounds
    try:
        table.create(engine)
        insert_rate(engine, table, 50, 1)
        single = median_of_rounds(
            "1 thread", "rows/s", n, rounds, lambda k: insert_rate(engine, table, k, 1)
        )
        many = median_of_rounds(
            f"{t} threads", "rows/s", n, rounds, lambda k: insert_rate(engine, table, k, t)
        )
    finally:
        engine.dispose()
    return single, many
