"""The event store: upcasting old events, snapshots, hashed keys, concurrent writers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import StoredEvent

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from commands.store import Parley
from domain.identity import user_id_key
from domain.user import User
from tests.helpers import ping, user_rows
from web.bootstrap import Services


def test_history_written_by_version_1_of_an_event_stays_readable(
    services: Services, app: CreatedApp
) -> None:
    saved = ping(services, app.app_id, {"user_id": "old"})
    user_key = saved.user.id
    # A `Seen` event as the first prototype wrote it: a raw referrer, no source, no `via`.
    v1_state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:40:00+00:00"},
        "originator_id": user_key.hex,
        "originator_version": saved.user.version + 1,
        "at": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:40:00+00:00"},
        "url": "https://app.example.com/",
        "referrer": "https://news.ycombinator.com/item?id=1",
        "ip": "81.2.69.142",
        "user_agent": "UA",
        "timezone": None,
        "city": None,
        "country": None,
        "new_session": True,
    }
    services.store.recorder.insert_events(
        [
            StoredEvent(
                originator_id=user_key,
                originator_version=saved.user.version + 1,
                topic="domain.user:User.Seen",
                state=json.dumps(v1_state).encode(),
            )
        ]
    )
    user: User = services.store.repository.get(user_key)
    assert user.session_count == 2
    assert user.session_source == "news.ycombinator.com"
    assert user_rows(services, app.app_id)[0]["session_source"] == "news.ycombinator.com"


def test_long_histories_are_loaded_from_snapshots(
    services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    for _ in range(120):
        clock.advance(minutes=1)
        ping(services, app.app_id, {"user_id": "busy"})
    key = user_id_key(app.app_id, "busy")
    assert services.store.snapshots is not None
    snapshots = services.store.snapshots.get(key, desc=True, limit=1)
    (latest,) = snapshots
    assert latest.originator_version >= 100
    user: User = services.store.repository.get(key)
    assert user.impressions == 120
    assert user_rows(services, app.app_id)[0]["impressions"] == 120


def test_snapshots_taken_before_tags_and_tracked_events_still_load(
    services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    """A version-1 User snapshot (no tags, no tracked events) is upcast when loaded."""
    from sqlalchemy import select, update

    for _ in range(50):
        clock.advance(minutes=1)
        ping(services, app.app_id, {"user_id": "old"})
    key = user_id_key(app.app_id, "old")
    assert services.store.snapshots is not None
    recorder: Any = services.store.snapshots.recorder
    table = recorder.events_record_cls.__table__
    with recorder.datastore.writer.begin() as conn:
        row = conn.execute(select(table.c.state).where(table.c.originator_id == key)).one()
        state = json.loads(bytes(row.state))
        for written_later in ("tags", "events", "class_version"):
            state.pop(written_later, None)
        changed = json.dumps(state).encode()
        conn.execute(update(table).where(table.c.originator_id == key).values(state=changed))
    fresh = Parley(services.config.database_url)
    try:
        user: User = fresh.repository.get(key)
        assert (user.tags, user.events, user.impressions) == ([], {}, 50)
    finally:
        fresh.close()


def test_api_keys_are_never_stored_in_plain_text(services: Services, app: CreatedApp) -> None:
    states = b"".join(n.state for n in services.store.recorder.select_notifications(1, 100))
    assert app.api_key.encode() not in states
    assert app.secret.encode() in states  # needed to check secure-mode hashes


def together(threads: int, work: Callable[[Services, int], None], services: Services) -> None:
    """Run `work` in threads released at once, each with its own store as each web worker
    process has; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(n: int) -> None:
        store = Parley(services.config.database_url)
        own = replace(services, store=store)
        try:
            start.wait()
            work(own, n)
        except BaseException as error:
            errors.append(error)
        finally:
            store.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []


def test_concurrent_pings_of_one_user_all_land_once(pg_services: Services) -> None:
    """Threads hammer the same user on PostgreSQL: conflicts retry, nothing lost or doubled."""
    services = pg_services
    app = create_app(CreateApp("Race"), services.store, services.clock)
    threads, per_thread = 8, 15

    def pings(own: Services, n: int) -> None:
        for i in range(per_thread):
            settings = {"user_id": "shared", "email": "s@example.com", f"thread_{n}": i}
            ping(own, app.app_id, settings)

    together(threads, pings, services)
    user: User = services.store.repository.get(user_id_key(app.app_id, "shared"))
    assert user.impressions == threads * per_thread
    assert user.custom == {f"thread_{n}": per_thread - 1 for n in range(threads)}
    (row,) = user_rows(services, app.app_id)
    assert row["impressions"] == threads * per_thread
    seen = [
        n
        for n in services.store.recorder.select_notifications(1, 10_000)
        if n.topic.endswith("User.Seen")
    ]
    assert len(seen) == threads * per_thread


def test_two_first_pings_at_once_make_one_user(pg_services: Services, clock: ManualClock) -> None:
    services = pg_services
    app = create_app(CreateApp("Race"), services.store, clock)

    def first_visit(own: Services, _n: int) -> None:
        ping(own, app.app_id, {"user_id": "new", "email": "new@example.com"})

    together(6, first_visit, services)
    rows = user_rows(services, app.app_id)
    assert len(rows) == 1
    assert rows[0]["impressions"] == 6
    assert rows[0]["session_count"] == 1
    assert datetime.fromtimestamp(rows[0]["created_at"], UTC) == clock.now()


def test_pings_survive_their_database_connections_being_killed(pg_services: Services) -> None:
    """A pooled connection found dead is replaced; the ping lands once."""
    from sqlalchemy import text

    services = pg_services
    app = create_app(CreateApp("Killed"), services.store, services.clock)
    for _ in range(3):
        ping(services, app.app_id, {"user_id": "k"})
        with services.engine.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                    "AND backend_type = 'client backend'"
                )
            ).scalar()
        assert killed  # the store's pooled connections, used a moment ago
    ping(services, app.app_id, {"user_id": "k"})
    user: User = services.store.repository.get(user_id_key(app.app_id, "k"))
    assert user.impressions == 4
    (row,) = user_rows(services, app.app_id)
    assert row["impressions"] == 4


def test_a_connection_that_died_while_idle_is_replaced_before_use(pg_url: str) -> None:
    """Idle pooled connections are checked on checkout; a dead one never reaches a command."""
    from sqlalchemy import create_engine, text

    from commands.recorders import check_idle_connections

    engine = create_engine(pg_url, pool_size=1, max_overflow=0)
    check_idle_connections(engine, idle=0.0)
    backend = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as conn:
            first = conn.execute(backend).scalar()
        with create_engine(pg_url).connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
        with engine.connect() as conn:  # the pool's only connection, now dead
            second = conn.execute(backend).scalar()
        assert second != first
    finally:
        engine.dispose()


def test_messages_and_their_versions_are_stored_and_read_back(services: Services) -> None:
    from datetime import timedelta

    from domain.messages import Message

    now = services.clock.now()
    message = Message.compose(
        app_id="a",
        kind="auto",
        message_type="email",
        admin_id="ad",
        subject="Welcome {{ first_name }}",
        body="**Hi**",
        markup="markdown",
        style="official",
        custom_keys=set(),
        at=now,
        audience={"attribute": "signed_up_at", "operator": "exactly_days_ago", "value": 7},
        stop_at=int((now + timedelta(days=30)).timestamp()),
    )
    message.edit("Welcome!", "**Hello**", "markdown", "personal", set(), now)
    message.stop(now)
    services.store.save_all(message)
    fresh = Parley(services.config.database_url)
    try:
        loaded: Message = fresh.repository.get(message.id)
        assert [v["body"] for v in loaded.versions] == ["**Hi**", "**Hello**"]
        assert loaded.audience == message.audience and not loaded.live(now)
    finally:
        fresh.close()
