"""Database work per ping, counted in process (informational)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import event as sa_event

from bench.common import say, section
from bench.ingest.settings import PAGE
from commands.clock import ManualClock
from commands.recorders import StoreFactory
from commands.store import Parley
from commands.users import Ping, UserInput, record_ping

# -- database work per ping (in process, informational) ----------------------------------


def store_engines(store: Parley) -> dict[str, Engine]:
    factory = store.factory
    assert isinstance(factory, StoreFactory)
    return {"write": factory.datastore.writer, "read": factory.datastore.reader}


def count_database_work(engines: dict[str, Engine], action: Callable[[], object]) -> Counter[str]:
    """SQL statements per engine (reads go through the autocommit reader), checkouts, commits."""
    counts: Counter[str] = Counter()
    hooks: list[tuple[Engine, str, Callable[..., None]]] = []
    for kind, engine in engines.items():

        def on_statement(*_args: Any, kind: str = kind) -> None:
            counts[f"{kind} statements"] += 1

        def on_checkout(*_args: Any) -> None:
            counts["checkouts"] += 1

        def on_commit(*_args: Any) -> None:
            counts["commits"] += 1

        hooks += [
            (engine, "before_cursor_execute", on_statement),
            (engine, "checkout", on_checkout),
            (engine, "commit", on_commit),
        ]
    for engine, name, hook in hooks:
        sa_event.listen(engine, name, hook)
    try:
        action()
    finally:
        for engine, name, hook in hooks:
            sa_event.remove(engine, name, hook)
    return counts


def bench_ping(app_id: str, k: int, prefix: str = "u") -> dict[str, Any]:
    """The body widget.js posts on boot, for user number k."""
    return {
        "app_id": app_id,
        "user": {
            "user_id": f"{prefix}{k}",
            "email": f"{prefix}{k}@example.com",
            "name": f"User {prefix}{k}",
            "plan": "pro",
        },
        "url": PAGE,
        "referrer": None,
        "timezone": "Europe/Paris",
    }


def database_work_per_ping(url: str, app_id: str) -> None:
    section("Database work per ping (in process, same code as POST /widget/ping)")
    store = Parley(url)
    try:
        engines = store_engines(store)
        clock = ManualClock()
        user = UserInput(
            user_id="probe",
            email="probe@example.com",
            attributes={"name": "Probe"},
            custom={"plan": "pro"},
        )
        command = Ping(app_id=app_id, user=user, url=PAGE, timezone="Europe/Paris")
        for label in ("first ping of a user", "later ping of the same user"):
            counts = count_database_work(engines, lambda: record_ping(command, store, clock))
            say(
                f"{label}: {counts['read statements']} read and "
                f"{counts['write statements']} write statements, "
                f"{counts['checkouts']} connection checkouts, {counts['commits']} commit"
            )
    finally:
        store.close()
