"""The demo app a newcomer opens after `make run`: a product in use, seeded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from commands.apps import AddAdmin, CreateApp, add_admin, create_app
from commands.clock import SystemClock
from commands.handling import handle
from projections.tables import user_events, users
from queries.conversations import inbox_counts
from queries.counts import app_counts, company_counts, user_counts
from web.bootstrap import bootstrap, migrate
from web.config import Config
from web.demo_data import seed_demo

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_demo_shows_a_product_in_use_and_is_seeded_once(tmp_path: Path) -> None:
    # SQLite only, as `make run` has it by default: the seeding takes a few seconds.
    config = Config(
        database_url=f"sqlite:///{tmp_path}/demo.db",
        secret_key="test",
        outbox_dir=f"{tmp_path}/outbox",
        sweep_seconds=0,
    )
    migrate(config)
    services = bootstrap(config)
    try:
        store, clock = services.store, SystemClock()
        app = handle(create_app, CreateApp("Demo app"), store, clock)
        admin = handle(add_admin, AddAdmin(app.app_id, "admin@example.com", "Demo"), store, clock)
        assert seed_demo(store, app.app_id, admin["id"], now=NOW) is not None
        services.runner.catch_up()
        head = store.head()
        with services.engine.connect() as conn:
            counts = app_counts(conn, app.app_id)
            segments = dict(user_counts(conn, app.app_id, "segment", NOW))
            tagged = dict(user_counts(conn, app.app_id, "tag", NOW))
            tagged_companies = dict(company_counts(conn, app.app_id, "tag", NOW))
            members = dict(company_counts(conn, app.app_id, "user", NOW))
            inbox = inbox_counts(conn, app.app_id)
            rows = [dict(r) for r in conn.execute(select(users)).mappings()]
            tracked = set(conn.execute(select(user_events.c.name)).scalars())

        assert counts["user"]["count"] == 300 and counts["company"]["count"] == 25
        assert all(segments[name] > 0 for name in ("New", "Active", "Slipping away")), segments
        assert segments["Active"] + segments["Slipping away"] == 300  # everyone was seen
        assert sum(n > 0 for n in members.values()) >= 20 and sum(members.values()) >= 200
        assert all(tagged.get(name, 0) > 0 for name in ("VIP", "Beta tester", "Churn risk"))
        assert tagged_companies["VIP"] > 0
        assert inbox["open"] > 0 and inbox["closed"] > 0 and inbox["assigned"] > 0

        # What the list and the profiles show: sessions over 90 days, places, custom data.
        seen = [datetime.fromtimestamp(r["last_seen_at"], UTC) for r in rows]
        assert min(seen) < NOW - timedelta(days=30) and max(seen) > NOW - timedelta(hours=12)
        assert all(NOW - timedelta(days=90) < s <= NOW for s in seen)
        assert max(r["session_count"] for r in rows) >= 5
        # Events without a moment of their own are stamped when they happened, not when seeded.
        assert all(r["updated_at"] <= NOW.timestamp() for r in rows)
        assert len({r["country"] for r in rows}) >= 10 and all(r["city"] for r in rows)
        assert any(not r["name"].isascii() for r in rows)
        kinds = {(key, type(value)) for r in rows for key, value in r["custom_attributes"].items()}
        assert {("plan", str), ("seats", int), ("beta", bool), ("trial_ends_at", int)} <= kinds
        assert {"created-project", "invited-teammate", "exported-report"} <= tracked
        assert sum(r["last_message_sent_at"] is not None for r in rows) >= 10  # relationships

        # A second `parley demo` (or a lost var/demo.json) does not seed it again.
        assert seed_demo(store, app.app_id, admin["id"], now=NOW + timedelta(days=1)) is None
        assert store.head() == head
    finally:
        services.close()
