"""Activity benchmark: `.venv/bin/python -m bench.activity` (also run by `make bench`).

One user with 10,000 events of their own (page views, new sessions, attribute updates,
tracked events, tags, unsubscribes), 40 conversations of 6 parts and 40 emails sent, opened
and clicked, among 100 other users' 100,000 events, on PostgreSQL and on SQLite. The events
are made by the domain and saved a few hundred at a time (the commands would take minutes for
the same events; the activity reads only the store and the projections, which the runner
then builds; on PostgreSQL the tables are then analysed, as autovacuum would). Timed: what a
teammate waits for, as the server answers
`GET /apps/<app>/users/<id>/activity` (the profile's first activity page, the same reading
and template; signed in, whole HTML page), and an older page far back (page 150).
Target: the first page under 50 ms at p95 on PostgreSQL.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from bench.common import Figure, fresh_schema, percentile, print_summary, say, section, server_url
from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, CreateApp, add_admin, create_app
from commands.clock import SystemClock
from commands.store import Parley
from commands.tags import SaveTag, save_tag
from domain.conversations import Conversation, conversation_for
from domain.delivery import Delivery
from domain.messages import Message
from domain.user import User
from web.app import create_app as create_web_app
from web.bootstrap import Services, bootstrap, migrate
from web.config import Config

TARGET_MS = 50.0
EMAIL, PASSWORD = "ann@acme.io", "a bench password, long enough"
START = datetime(2025, 1, 1, tzinfo=UTC)
SAVE_EVERY = 250


def one_user(store: Parley, app_id: str, events: int, tags: list[str]) -> str:
    """The user's own `events`, with conversations and emails between them; their key."""
    user = User(app_id=app_id, user_id="heavy", email="heavy@x.io", at=START)
    pending: list[Any] = []
    talk: Conversation | None = None
    at = START
    for n in range(1, events):
        at += timedelta(minutes=7)
        kind = n % 100
        if kind in (10, 40, 70):
            user.update({"name": f"Heavy {n}"}, {"plan": ("free", "pro", "team")[n % 3]}, by="api")
        elif kind in (20, 60):
            user.track("exported-report", at, {"format": "pdf", "pages": n % 9}, by="snippet")
        elif kind == 30:
            tag = tags[n % len(tags)]
            (user.untag if tag in user.tags else user.tag)(tag, by="1")
        elif kind == 50 and n % 1000 == 50:
            user.set_unsubscribed(not user.unsubscribed_from_emails, by="snippet")
        else:
            url = f"https://app.x.io/{('billing', 'reports', 'team', 'settings')[n % 4]}?n={n}"
            user.record_page_view(at, url, None, "81.2.69.142", "Mozilla/5.0", "Europe/Paris")
        if n % 250 == 5:  # a conversation started, then answered over the next few events
            talk = Conversation.start(
                app_id=app_id, user_key=user.id.hex, author={"type": "user", "id": user.id.hex},
                body=f"Question {n}: where is the export?", at=at, via="widget",
            )  # fmt: skip
            pending.append(talk)
        elif talk is not None and n % 250 in (15, 25, 35, 45, 55):
            if n % 20 == 5:
                talk.reply(
                    author={"type": "admin", "id": "1"}, part_type="comment", at=at, body="On it"
                )
            else:
                me = {"type": "user", "id": user.id.hex}
                talk.reply(author=me, part_type="comment", at=at, body=f"Part {n}", via="widget")
        if n % 250 == 125:
            pending.extend(emailed(app_id, user, at, n))
        if n % SAVE_EVERY == 0:
            store.save_all(user, *pending)
            pending = [talk] if talk is not None else []
    store.save_all(user, *pending)
    return user.id.hex


def emailed(app_id: str, user: User, at: datetime, n: int) -> list[Any]:
    """An email sent to the user, opened and clicked, with the conversation it opens."""
    message = Message.compose(
        app_id=app_id, kind="manual", message_type="email", admin_id="1",
        subject=f"Newsletter {n}", body="Hi, **news**.", markup="markdown", style="personal",
        custom_keys=set(), at=at, recipients=[user.id.hex],
    )  # fmt: skip
    delivery = Delivery(
        message_id=message.message_id, user_key=user.id.hex, channel="email",
        content_version=0, at=at,
    )  # fmt: skip
    delivery.sending(at)
    delivery.sent(at)
    delivery.open(at + timedelta(hours=1))
    delivery.click("https://x.io/news", at + timedelta(hours=1))
    return [message, delivery, conversation_for(message, user, "<p>Hi</p>", at, by_email=True)]


def others(store: Parley, app_id: str, users: range, each: int) -> None:
    """Other users' page views, so the events table is not the one user's alone."""
    for u in users:
        user = User(app_id=app_id, user_id=f"other-{u}", email=None, at=START)
        for n in range(each - 1):
            at = START + timedelta(minutes=n)
            user.record_page_view(at, f"https://app.x.io/{n % 7}", None, None, None, None)
            if n % 500 == 0:
                store.save_all(user)
        store.save_all(user)


def signed_in(services: Services) -> FlaskClient:
    web = create_web_app(services=services, follow=False)
    client = web.test_client()
    page = client.get("/signin").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": found[1]}
    assert client.post("/signin", data=form).status_code == 302
    return client


def timed(runs: int, work: Callable[[], Any]) -> list[float]:
    work()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(url: str, name: str, events: int, other_users: int, runs: int) -> list[Figure]:
    section(f"{name}: a user with {events:,} events, among {other_users * 1000:,} others'")
    config = Config(database_url=url, secret_key="bench", sweep_seconds=0)
    migrate(config)
    services = bootstrap(config)
    clock = SystemClock()
    try:
        started = time.perf_counter()
        app_id = create_app(CreateApp("Bench"), services.store, clock).app_id
        add_admin(AddAdmin(app_id, EMAIL, "Ann Admin"), services.store, clock)
        set_password(SetPassword(EMAIL, PASSWORD), services.store, clock)
        tags = [
            save_tag(SaveTag(app_id, name), services.store, clock).id
            for name in ("VIP", "Beta", "Churn risk")
        ]
        others(services.store, app_id, range(other_users // 2), 1000)
        key = one_user(services.store, app_id, events, tags)
        others(services.store, app_id, range(other_users // 2, other_users), 1000)
        services.runner.catch_up()
        if services.engine.dialect.name == "postgresql":
            # As autovacuum would a minute after such a load: the planner's statistics from
            # when the tables were empty make it scan the whole events table for the
            # conversations' and emails' events instead of using their index.
            with services.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        say(f"built {services.store.head():,} events in {time.perf_counter() - started:.1f} s")
        client = signed_in(services)
        path = f"/apps/{app_id}/users/{key}/activity"
        first = client.get(path)
        assert first.status_code == 200, first.status_code
        cursor = None
        for _ in range(149):
            page = client.get(path + (f"?before={cursor}" if cursor else ""))
            older = re.search(r'before=([0-9-]+)"', page.get_data(as_text=True))
            assert older, "the history ended too early"
            cursor = older[1]
        deep = f"{path}?before={cursor}"

        def ask(target: str) -> Callable[[], None]:
            def work() -> None:
                answer = client.get(target)
                assert answer.status_code == 200

            return work

        figures = []
        for label, target in (("first page", path), ("page 150", deep)):
            samples = timed(runs, ask(target))
            p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
            say(
                f"{label:<12} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
                f"p95 / target {p95 / TARGET_MS:.2f}"
            )
            figures.append(
                Figure(f"{name}: {label}, p95", p95, "ms", f"< {TARGET_MS:.0f} ms", p95 < TARGET_MS)
            )
            figures.append(Figure(f"{name}: {label}, p50", p50, "ms"))
        client.application.extensions["parley_jobs"].stop()
        return figures
    finally:
        services.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--other-users", type=int, default=100, help="1,000 events each")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--databases", default="postgres,sqlite")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    wanted = args.databases.split(",")
    if "postgres" in wanted:
        with fresh_schema(server_url()) as url:
            figures += measure(url, "PostgreSQL", args.events, args.other_users, args.runs)
    if "sqlite" in wanted:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/activity.db"
            figures += measure(url, "SQLite", args.events, args.other_users, args.runs)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
