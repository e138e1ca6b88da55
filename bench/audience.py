"""Audience benchmark: `make bench` (or `.venv/bin/python -m bench.audience [--quick]`).

Builds an app with --users users (1,000,000 by default) with varied standard attributes,
custom data, companies, tags, tracked events and message times, directly into the projection
tables of a fresh PostgreSQL schema (a query benchmark: building that many users through
commands would take most of an hour, and the tables are what the queries read). Then times what
`GET /users?filter=…` does for a set of realistic filters: the count and the first page's ids
(from the audience index, as for any app of AUDIENCE_INDEX_MIN_USERS users or more, after it
re-reads what the projections changed), then those 50 users with their companies, tags and
segments (from SQL). Reports p50/p95 per filter against the target (p95 < 100 ms), and the
same on SQLite with --sqlite-users users (within 3x); also the index's build time and size,
and, for comparison, what counting in SQL alone takes.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench.common import (
    Figure,
    fresh_schema,
    percentile,
    print_summary,
    say,
    section,
    server_url,
)
from bench.population import (
    APP,
    CHANGED,
    NOW,
    P95_TARGET_MS,
    SQLITE_FACTOR,
    Population,
    build_population,
    filters,
    load,
)
from commands.clock import ManualClock
from commands.store import Parley
from commands.users import SaveUser, UserInput, save_user
from domain.filters import Filter, parse_filter
from migrations import upgrade
from projections.db import make_engine
from projections.log import Log
from projections.runner import Runner
from projections.users import UsersProjection
from queries.audience.following import AudienceIndex
from queries.audience.lifecycle import AudienceIndexes
from queries.audience.sql import user_filter
from queries.segments import definitions
from queries.users import count_matching, search_users

# -- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    name: str
    total: int
    samples: list[float]
    sql_samples: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)


def time_filters(
    engine: Engine, indexes: AudienceIndexes, population: Population, runs: int
) -> list[Timing]:
    tag_ids = {t["name"]: t["id"] for t in population.tags}
    segment_ids = {s["name"]: s["id"] for s in population.segments}
    found: list[Timing] = []
    for name, written in filters(tag_ids, segment_ids).items():
        f = parse_filter(written)
        samples: list[float] = []
        total = 0
        for _ in range(runs):
            started = time.perf_counter()
            total = first_page(engine, indexes, f)
            samples.append((time.perf_counter() - started) * 1000)
        sql_samples: list[float] = []
        for _ in range(max(3, runs // 4)):
            started = time.perf_counter()
            if sql_count(engine, f) != total:
                raise AssertionError(f"{name}: the index and SQL count differently")
            sql_samples.append((time.perf_counter() - started) * 1000)
        timing = Timing(name, total, samples, sql_samples)
        found.append(timing)
        say(
            f"{name:<48} {total:>9,} users   p50 {timing.p50:6.1f} ms   p95 {timing.p95:6.1f} ms"
            f"   (SQL count alone: p50 {percentile(sql_samples, 0.5):6.1f} ms)"
        )
    return found


def first_page(engine: Engine, indexes: AudienceIndexes, f: Filter) -> int:
    """What GET /users?filter=… does: the count and the first 50 users' ids from the index
    (after it re-reads what changed), then those users with their companies, tags and
    segments from SQL."""
    with engine.connect() as conn:
        lookup = definitions(conn, APP)
        where = user_filter(f, conn.dialect.name, NOW, lookup, APP)
        found = indexes.search(conn, APP, f, NOW, lookup, ("created_at", True, 51))
        if found is None:
            raise AssertionError("the bench app has no index")
        total, chosen = found
        listing = search_users(conn, APP, where, NOW, "created_at", "desc", 50, None, total, chosen)
        return listing.total


def sql_count(engine: Engine, f: Filter) -> int:
    with engine.connect() as conn:
        lookup = definitions(conn, APP)
        return count_matching(conn, APP, user_filter(f, conn.dialect.name, NOW, lookup, APP))


def catch_up_time(
    url: str, store: Parley, engine: Engine, index: AudienceIndex, changed: int
) -> float:
    """Seconds the index takes to re-read `changed` users the projections just changed (a
    request pays this for what changed since the last refresh, at most a few seconds' worth)."""
    runner = Runner(store, make_engine(url, writer=True), [UsersProjection()])
    try:
        clock = ManualClock()
        clock.set(NOW)
        for n in range(changed):
            user = UserInput(user_id=f"new{n}", custom={"plan": "pro", "seats": n % 60})
            save_user(SaveUser(app_id=APP, user=user), store, clock)
        runner.catch_up()
    finally:
        runner.engine.dispose()
    started = time.perf_counter()
    with engine.connect() as conn:
        index.refresh(conn, Log(store))
    return time.perf_counter() - started


def resident_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def index_size(index: AudienceIndex) -> float:
    """MB held in the index's arrays (dicts of ids and tags come on top)."""
    arrays: list[Any] = [index.users.alive, index.companies.alive]
    for columns in (index.users, index.companies):
        arrays += list(columns.number.values())
        texts = list(columns.text.values()) + [c.text for c in columns.custom.values()]
        arrays += [t.data for t in texts] + [t.known for t in texts]
        arrays += [c.kind for c in columns.custom.values()]
        arrays += [c.number for c in columns.custom.values() if c.number is not None]
    for events in index.events.values():
        arrays += [events.count, events.first_at, events.last_at]
    arrays += [index.member_users, index.member_companies]
    return sum(a.nbytes for a in arrays) / 1e6


# -- the whole run ------------------------------------------------------------------------


def measure(label: str, url: str, size: int, runs: int) -> tuple[list[Timing], list[Figure]]:
    section(f"{label}: {size:,} users")
    upgrade(url)
    engine = make_engine(url)
    store = Parley(url)
    try:
        started = time.perf_counter()
        population = build_population(size)
        built = time.perf_counter() - started
        load(engine, population)
        loaded = time.perf_counter() - started
        say(f"built in {built:.1f} s, loaded (with indexes and ANALYZE) in {loaded - built:.1f} s")
        del population.users[:]  # the rows live in the database now
        indexes = AudienceIndexes(engine, Log(store), min_users=0)
        gc.collect()
        before = resident_mb()
        started = time.perf_counter()
        index = indexes.build(APP)
        indexed = time.perf_counter() - started
        gc.collect()
        grown = resident_mb() - before
        say(
            f"audience index built in {indexed:.1f} s: {index_size(index):.0f} MB of arrays, "
            f"the process grew by {grown:.0f} MB"
        )
        try:
            timings = time_filters(engine, indexes, population, runs)
            # Last, as it adds users: the newest, at the head of every list.
            caught_up = catch_up_time(url, store, engine, index, CHANGED)
        finally:
            indexes.stop()
        say(f"audience index re-read {CHANGED:,} changed users in {caught_up * 1000:.0f} ms")
        return timings, [
            Figure(f"{label}: build + load time", loaded, "s"),
            Figure(f"{label}: audience index build", indexed, "s"),
            Figure(f"{label}: audience index arrays", index_size(index), "MB"),
            Figure(f"{label}: process growth for the index", grown, "MB"),
            Figure(f"{label}: index catch-up, {CHANGED:,} users", caught_up * 1000, "ms"),
        ]
    finally:
        store.close()
        engine.dispose()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1_000_000, help="PostgreSQL population")
    parser.add_argument("--sqlite-users", type=int, default=100_000, help="SQLite population")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per filter")
    parser.add_argument("--quick", action="store_true", help="100,000 / 20,000 users, 8 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.sqlite_users, args.runs = 100_000, 20_000, 8
    return args


def summary(pg: list[Timing], lite: list[Timing]) -> list[Figure]:
    found = []
    for p, s in zip(pg, lite, strict=True):
        found.append(
            Figure(
                f"PG p95: {p.name}",
                p.p95,
                "ms",
                f"< {P95_TARGET_MS:.0f} ms",
                p.p95 < P95_TARGET_MS,
            )
        )
        found.append(
            Figure(
                f"SQLite p95: {s.name}",
                s.p95,
                "ms",
                f"< {P95_TARGET_MS * SQLITE_FACTOR:.0f} ms",
                s.p95 < P95_TARGET_MS * SQLITE_FACTOR,
            )
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with fresh_schema(server_url()) as url:
        pg, pg_figures = measure("PostgreSQL", url, args.users, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        lite, lite_figures = measure(
            "SQLite", f"sqlite:///{Path(folder) / 'audience.db'}", args.sqlite_users, args.runs
        )
    print_summary([*pg_figures, *lite_figures, *summary(pg, lite)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
