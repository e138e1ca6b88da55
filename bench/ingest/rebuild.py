"""5. Projection rebuild speed, in process, over a log of at least --rebuild-events events."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.domain import Aggregate

from bench.common import say, section
from bench.ingest.settings import PAGE, Settings
from commands.apps import load_app
from commands.clock import ManualClock
from commands.store import Parley
from domain.identity import email_key
from domain.user import Alias, User
from projections.db import make_engine
from projections.rebuild import rebuild
from web.bootstrap import all_projections

# -- 5. rebuild --------------------------------------------------------------------------


HISTORY_CHUNK = 500  # aggregates per save while appending history


def save_in_chunks(store: Parley, aggregates: Sequence[Aggregate]) -> None:
    for start in range(0, len(aggregates), HISTORY_CHUNK):
        store.save(*aggregates[start : start + HISTORY_CHUNK])


def history_cohort(app_id: str, size: int, clock: ManualClock) -> list[tuple[User, Alias]]:
    """New users as a first ping leaves them: Created, Updated, Seen, and an email Alias."""
    cohort = []
    for n in range(size):
        email = f"h{n}@example.com"
        user = User(app_id=app_id, user_id=f"h{n}", email=email, at=clock.now())
        user.update({"email": email, "name": f"History {n}"}, {"plan": "pro"})
        user.record_page_view(clock.now(), PAGE, None, "203.0.113.9", "bench", "Europe/Paris")
        cohort.append((user, Alias(key=email_key(app_id, email), user=user.id)))
    return cohort


def append_history(store: Parley, app_id: str, users: int, target: int) -> int:
    """Append traffic shaped like the pings (a cohort of `users` users, then rounds of one
    page view each, so a user's events are spread over the log) until the log holds
    `target` events; return how many were appended."""
    load_app(store, app_id)
    clock = ManualClock()
    before = store.head()
    cohort = history_cohort(app_id, users, clock)
    save_in_chunks(store, [a for pair in cohort for a in pair])
    while store.head() < target:
        clock.advance(minutes=7)
        for user, _alias in cohort:
            user.record_page_view(clock.now(), PAGE, None, "203.0.113.9", "bench", "Europe/Paris")
        save_in_chunks(store, [user for user, _alias in cohort])
    return store.head() - before


@dataclass(frozen=True)
class RebuildResult:
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def rebuild_speed(url: str, app_id: str, settings: Settings) -> list[RebuildResult]:
    section("5. Projection rebuild (server stopped; in process)")
    store = Parley(url)
    engine = make_engine(url, writer=True)
    try:
        head = store.head()
        if head < settings.rebuild_events:
            started = time.perf_counter()
            added = append_history(store, app_id, settings.users, settings.rebuild_events)
            elapsed = time.perf_counter() - started
            say(
                f"log held {head} events; appended {added} more from {settings.users} users "
                f"in {elapsed:.1f} s (not measured)"
            )
        results = []
        for projection in all_projections():
            started = time.perf_counter()
            events = rebuild(store, engine, projection)
            results.append(RebuildResult(projection.name, events, time.perf_counter() - started))
        for r in results:
            rate = f"{r.rate:,.0f} events/s"
            say(f"{r.name}: {r.events} events replayed in {r.seconds:.2f} s, {rate}")
    finally:
        store.close()
        engine.dispose()
    return results
