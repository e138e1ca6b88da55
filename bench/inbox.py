"""Inbox benchmark: `.venv/bin/python -m bench.inbox` (also run by `make bench`).

100,000 conversations of 20 parts each (with their inbox lines: the latest words and who wrote
them), in one app with 10 teammates and 20,000 users, are COPYed into the conversations
projection on PostgreSQL (replaying two million events through the commands would take most
of an hour; the inbox views read only the projection). Then
p50/p95 of what `GET /conversations` does for a page of 25 (the page plus `total_count`) for
each inbox view, and of reading one whole 20-part conversation from the event store.
Target: every inbox page under 50 ms p95.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from bench.common import (
    Figure,
    copy_rows,
    fresh_schema,
    percentile,
    print_summary,
    say,
    section,
    server_url,
)
from commands.apps import AddAdmin, CreateApp, add_admin, create_app
from commands.clock import SystemClock
from commands.conversations import Reply, StartConversation, load_conversation, reply, start_by_user
from commands.store import Parley
from commands.users import Ping, UserInput, record_ping
from migrations import upgrade
from projections.conversations import admin_unread, preview
from projections.db import make_engine
from projections.tables import conversation_counts, conversations
from queries.conversations import Inbox, admin_counts, inbox, inbox_counts

APP = "inboxapp"
ADMINS = [str(n) for n in range(1, 11)]
TARGET_MS = 50.0
NOW = 1_790_000_000
USERS = 20_000


SAID = [
    "Hi, I can't sign in since this morning, it says my password is wrong.",
    "How do I export last month's invoices as a PDF?",
    "Thanks, that fixed it!",
    "We'd like to move the whole team to the yearly plan: who should I talk to?",
    "The CSV import stops at 80% every time, with no error message.",
    "Is there a way to add a second admin to our workspace?",
    "Sure, I've sent the screenshot by email a minute ago.",
    "Our webhook gets a 500 from your side since the last release.",
    "Could you refund the duplicate charge of 49 EUR on the 3rd?",
    "Great, I'll try that tomorrow and let you know.",
]


def said(rng: random.Random) -> str:
    """A realistic inbox line: one to three things people write, cut as the projection does."""
    return preview(" ".join(rng.sample(SAID, rng.randrange(1, 4))), "text")


def rows(size: int, users: int, seed: int = 11, app_id: str = APP) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    found = []
    for _ in range(size):
        created = NOW - rng.randrange(365 * 86_400)
        wrote = rng.randrange(0, 21)
        row: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "app_id": app_id,
            "user_id": f"{rng.randrange(users):032x}",
            "message_id": None,
            "user_started": rng.random() < 0.7,
            "assignee_id": None if rng.random() < 0.2 else rng.choice(ADMINS),
            "open": rng.random() < 0.3,
            "created_at": created,
            "updated_at": created + rng.randrange(30 * 86_400),
            "parts": 20,
            "user_wrote": wrote,
            "user_unread": rng.random() < 0.2,
            "admins_read": {a: rng.randrange(-1, 21) for a in rng.sample(ADMINS, 2)},
            "preview": said(rng),
            "preview_by": "user" if wrote == 20 or rng.random() < 0.5 else "admin",
        }
        row["waiting"] = not row["user_started"] and wrote == 0
        assignee = row["assignee_id"]
        row["assignee_unread"] = assignee is not None and admin_unread(row, assignee)
        row["admins_read"] = json.dumps(row["admins_read"])
        found.append(row)
    return found


def load_inbox(
    engine: Engine, size: int, users: int = USERS, app_id: str = APP
) -> list[dict[str, Any]]:
    """`size` conversations over `users` users COPYed into the projection, with its counts."""
    started = time.perf_counter()
    built = rows(size, users, app_id=app_id)
    copy_rows(engine, conversations, built)
    counted = Counter(
        (r["app_id"], r["assignee_id"] or "", r["open"], r["assignee_unread"], r["waiting"])
        for r in built
    )
    copy_rows(
        engine,
        conversation_counts,
        [
            {
                "app_id": a,
                "assignee_id": b,
                "open": o,
                "unread": u,
                "waiting": w,
                "conversations": n,
            }
            for (a, b, o, u, w), n in counted.items()
        ],
    )
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE conversations")
    say(f"{size:,} conversations loaded in {time.perf_counter() - started:.1f} s")
    return built


def timed(runs: int, work: Callable[[], Any]) -> list[float]:
    work()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def views(url: str, size: int, runs: int) -> list[tuple[str, list[float], int]]:
    section(f"Inbox views over {size:,} conversations (a page of 25 and total_count)")
    engine = make_engine(url)
    try:
        built = load_inbox(engine, size)
        someone = built[0]["user_id"]
        found: list[tuple[str, list[float], int]] = []
        deep: dict[str, str | None] = {"cursor": None}
        with engine.connect() as conn:  # a cursor 40 pages into the open conversations
            for _ in range(40):
                deep["cursor"] = inbox(conn, Inbox(APP, open=True, before=deep["cursor"])).next
        cases: list[tuple[str, Inbox]] = [
            ("all open, newest first", Inbox(APP, open=True)),
            ("all closed", Inbox(APP, open=False)),
            ("mine (admin 3), open", Inbox(APP, open=True, assignee="3", reader="3")),
            ("unassigned, open", Inbox(APP, open=True, unassigned=True)),
            ("a user's conversations", Inbox(APP, user_key=someone)),
            ("all open, page 41", Inbox(APP, open=True, before=deep["cursor"])),
        ]
        for name, view in cases:
            total = 0

            def first_page(view: Inbox = view) -> None:
                nonlocal total
                with engine.connect() as conn:
                    total = inbox(conn, view).total

            samples = timed(runs, first_page)
            found.append((name, samples, total))
            say(
                f"{name:<30} {total:>7,} conversations   p50 {percentile(samples, 0.5):6.1f} ms"
                f"   p95 {percentile(samples, 0.95):6.1f} ms"
            )

        def per_admin() -> None:
            with engine.connect() as conn:
                admin_counts(conn, APP)

        def in_all() -> None:
            with engine.connect() as conn:
                inbox_counts(conn, APP)

        for name, work in (("counts per admin", per_admin), ("counts in all", in_all)):
            samples = timed(runs, work)
            found.append((name, samples, size))
            say(
                f"{name:<30} {size:>7,} conversations   p50 {percentile(samples, 0.5):6.1f} ms"
                f"   p95 {percentile(samples, 0.95):6.1f} ms"
            )
        return found
    finally:
        engine.dispose()


def one_conversation(url: str, runs: int) -> list[float]:
    section("One conversation of 20 parts, read from the event store")
    store = Parley(url)
    clock = SystemClock()
    try:
        app_id = create_app(CreateApp("Inbox"), store, clock).app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann"), store, clock)
        user = record_ping(Ping(app_id=app_id, user=UserInput(user_id="u")), store, clock).user
        talk = start_by_user(StartConversation(user.app_id, user.id.hex, "Hello?"), store, clock)
        for n in range(19):
            author = {"type": "admin", "id": "1"} if n % 2 else {"type": "user", "id": user.id.hex}
            reply(
                Reply(app_id, talk.conversation_id, author, "comment", body=f"part {n}"),
                store,
                clock,
            )
        store.repository.cache = None  # read it from the database each time, as a cold process
        samples = timed(runs, lambda: load_conversation(store, app_id, talk.conversation_id))
    finally:
        store.close()
    say(f"p50 {percentile(samples, 0.5):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms")
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    with fresh_schema(server_url()) as url:
        upgrade(url)
        found = views(url, args.conversations, args.runs)
        whole = one_conversation(url, args.runs)
    figures = [
        Figure(
            f"p95: {name}",
            percentile(samples, 0.95),
            "ms",
            f"< {TARGET_MS:.0f} ms",
            percentile(samples, 0.95) < TARGET_MS,
        )
        for name, samples, _total in found
    ]
    figures.append(Figure("p95: one 20-part conversation", percentile(whole, 0.95), "ms"))
    print_summary(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
