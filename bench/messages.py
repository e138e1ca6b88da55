"""Messages benchmark: `.venv/bin/python -m bench.messages` (also run by `make bench`).

1. What auto messages add to a ping: the same page views of returning users, in process on
   PostgreSQL, with no auto messages and with 20 live ones (varied filters, none of which the
   users match yet, so every ping evaluates all 20); p50/p95 of the difference. Target: under
   2 ms at p95. The users are in the event store, as pings find them; matching does not read
   other users, so the app's size does not enter the per-ping cost.
2. Emails rendered and handed to SMTP per second by one worker process's code path
   (deliver_email: claim, compose, inline CSS, send, record), against a local aiosmtpd server.
3. The periodic sweep with nothing due: 20 live auto emails (the audience bench's filters)
   over 100,000 users loaded into the projections, each email already sent to everyone it
   matches: the hourly check in full, the sweeps between (nothing changed; after a minute in
   which 1,000 users visited), and the jobs they queued (must be none).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from bench.common import (
    Figure,
    copy_rows,
    free_port,
    fresh_schema,
    percentile,
    print_summary,
    say,
    section,
    server_url,
)
from commands.apps import AddAdmin, CreateApp, add_admin, create_app
from commands.auto_messages import ComposeAutoMessage, compose_auto_message
from commands.clock import SystemClock
from commands.delivery import deliver_email, email_composer
from commands.email import Mailing, Sender
from commands.mail import Smtp
from commands.store import Parley
from commands.users import Ping, UserInput, record_ping
from domain.filters import parse_filter
from domain.messages import Message
from migrations import upgrade
from projections.tables import users as users_table

P95_TARGET_MS = 2.0
PAGE = "https://app.example.com/dashboard"


def filters() -> list[dict[str, Any]]:
    """Twenty auto-message audiences; the bench users match all but the last condition."""
    found: list[dict[str, Any]] = []
    for n in range(20):
        # Every condition is evaluated before the last one fails: no early exit.
        found.append(
            {
                "all": [
                    {
                        "any": [
                            {
                                "attribute": "signed_up_at",
                                "operator": "exactly_days_ago",
                                "value": 7,
                            },
                            {"attribute": "company.monthly_spend", "operator": "gt", "value": 100},
                            {"attribute": "event.invited.count", "operator": "lte", "value": 2},
                        ]
                    },
                    {"attribute": "session_count", "operator": "gte", "value": 0},
                    {"attribute": "last_seen_at", "operator": "less_than_days_ago", "value": 1},
                    {"attribute": "custom.plan", "operator": "is", "value": f"plan-{n}"},
                ]
            }
        )
    return found


def ping_cost(store: Parley, app_id: str, users: int, rounds: int) -> list[float]:
    clock = SystemClock()
    samples: list[float] = []
    for _ in range(rounds):
        for k in range(users):
            cmd = Ping(app_id=app_id, user=UserInput(user_id=f"u{k}"), url=PAGE)
            started = time.perf_counter()
            record_ping(cmd, store, clock)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def auto_message_cost(url: str, users: int, rounds: int) -> tuple[float, float, float, float]:
    section("1. What 20 live auto messages add to a returning user's ping (in process)")
    store = Parley(url)
    clock = SystemClock()
    try:
        app_id = create_app(CreateApp("Bench"), store, clock).app_id
        for k in range(users):  # first visits, then the users are returning
            record_ping(
                Ping(app_id=app_id, user=UserInput(user_id=f"u{k}"), url=PAGE), store, clock
            )
        ping_cost(store, app_id, users, 1)  # warm caches
        without = ping_cost(store, app_id, users, rounds)
        for n, audience in enumerate(filters()):
            compose_auto_message(
                ComposeAutoMessage(
                    app_id=app_id,
                    message_type="announcement",
                    admin_id="1",
                    subject=None,
                    body=f"Hello {{{{ first_name }}}}, message {n}",
                    markup="markdown",
                    style=None,
                    custom_keys={"plan"},
                    audience=audience,
                ),
                store,
                clock,
            )
        ping_cost(store, app_id, users, 1)
        with_messages = ping_cost(store, app_id, users, rounds)
    finally:
        store.close()
    p50 = percentile(with_messages, 0.5) - percentile(without, 0.5)
    p95 = percentile(with_messages, 0.95) - percentile(without, 0.95)
    say(
        f"without auto messages: p50 {percentile(without, 0.5):.2f} ms, "
        f"p95 {percentile(without, 0.95):.2f} ms ({len(without)} pings)"
    )
    say(
        f"with 20 live auto messages: p50 {percentile(with_messages, 0.5):.2f} ms, "
        f"p95 {percentile(with_messages, 0.95):.2f} ms"
    )
    return percentile(without, 0.95), percentile(with_messages, 0.95), p50, p95


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def email_rate(url: str, emails: int) -> float:
    section("2. Emails rendered and handed to SMTP by one worker's code path")
    store = Parley(url)
    clock = SystemClock()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app_id = create_app(CreateApp("Mail"), store, clock).app_id
        add_admin(AddAdmin(app_id, "ann@acme.io", "Ann Admin"), store, clock)
        keys = [
            record_ping(
                Ping(app_id=app_id, user=UserInput(user_id=f"m{k}", email=f"m{k}@x.io")),
                store,
                clock,
            ).user.id.hex
            for k in range(emails)
        ]
        message = Message.compose(
            app_id=app_id,
            kind="manual",
            message_type="email",
            admin_id="1",
            subject='News for {{ first_name | fallback:"you" }}',
            body='Hi {{ first_name | fallback:"there" }},\n\nWe shipped **PDF export**.',
            markup="markdown",
            style="official",
            custom_keys=set(),
            at=clock.now(),
            audience={"all": []},
        )
        store.save_all(message)
        mailing = Mailing("https://parley.example", "bench", "parley.localhost")
        composer = email_composer(store, mailing, lambda _m: Sender("Ann Admin", "ann@acme.io"))
        transport = Smtp(f"smtp://127.0.0.1:{controller.port}")
        started = time.perf_counter()
        for key in keys:
            deliver_email(
                message.id.hex,
                key,
                bulk=True,
                store=store,
                clock=clock,
                transport=transport,
                compose=composer,
            )
        seconds = time.perf_counter() - started
    finally:
        controller.stop()
        store.close()
    rate = sink.count / seconds
    say(f"{sink.count} emails in {seconds:.1f} s: {rate:,.0f} emails/s")
    say("(one thread; one SMTP connection per email; claim and outcome recorded as events)")
    return rate


def sweep_cost(url: str, users: int, runs: int) -> tuple[float, float, float, int]:
    """The sweep with 20 live auto emails over `users` users, each email already sent to
    everyone it matches: the steady state, where nothing is due."""
    section(f"3. A sweep with nothing due: 20 live auto emails, {users:,} users")
    from dramatiq.brokers.stub import StubBroker

    from bench import population as people
    from commands.clock import ManualClock
    from projections.db import make_engine
    from projections.tables import deliveries
    from queries.audience.sql import user_filter
    from queries.segments import definitions
    from web.bootstrap import bootstrap
    from web.config import Config
    from workers.jobs import EMAIL_QUEUE, Jobs
    from workers.sweep import Sweeper

    engine = make_engine(url)
    population = people.build_population(users)
    people.load(engine, population)
    tag_ids = {t["name"]: t["id"] for t in population.tags}
    segment_ids = {s["name"]: s["id"] for s in population.segments}
    written = list(people.filters(tag_ids, segment_ids).values())
    services = bootstrap(Config(database_url=url, secret_key="bench"), ManualClock(people.NOW))
    try:
        sent: list[dict[str, Any]] = []
        for n in range(20):
            message = compose_auto_message(
                ComposeAutoMessage(
                    app_id=people.APP,
                    message_type="email",
                    admin_id="1",
                    subject=f"Auto email {n}",
                    body="Hello from the team.",
                    markup="markdown",
                    style="personal",
                    custom_keys=set(),
                    audience=written[n % len(written)],
                ),
                services.store,
                services.clock,
            )
            with engine.connect() as conn:
                f = user_filter(
                    parse_filter(message.audience or {}),
                    "postgresql",
                    people.NOW,
                    definitions(conn, people.APP),
                    people.APP,
                )
                query = select(users_table.c.id).where(users_table.c.app_id == people.APP, f)
                sent += [
                    {
                        "id": uuid.uuid4().hex,
                        "message_id": message.message_id,
                        "user_id": key,
                        "channel": "email",
                        "state": "sent",
                        "attempts": 1,
                        "last_error": None,
                        "updated_at": people.NOW_S,
                    }
                    for key in conn.execute(query).scalars()
                ]
        copy_rows(engine, deliveries, sent)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        services.runner.catch_up()
        broker = StubBroker()
        broker.declare_queue(EMAIL_QUEUE)
        jobs = Jobs(services, broker)

        def timed(sweeper: Sweeper, times: int) -> list[float]:
            samples = []
            for _ in range(times):
                started = time.perf_counter()
                sweeper.sweep()
                samples.append((time.perf_counter() - started) * 1000)
            return samples

        in_full = Sweeper(jobs, full_every=0)  # every user against every auto email
        in_full.sweep()  # warm
        full = timed(in_full, runs)
        hourly = Sweeper(jobs)
        hourly.sweep()  # the hourly check in full; then sweeps look at changed users only
        quiet = timed(hourly, runs)
        clock = SystemClock()  # a minute's activity: 1,000 users visit
        from domain.app import App

        # The population went straight into the projections; the pings need its app.
        services.store.save_all(
            App(app_id=people.APP, name="Bench", api_key_hash="-", secret="-", at=clock.now())
        )
        for k in range(1000):
            record_ping(
                Ping(app_id=people.APP, user=UserInput(user_id=f"visitor{k}"), url=PAGE),
                services.store,
                clock,
            )
        services.runner.catch_up()
        busy = timed(hourly, 1)[0]
        queued = broker.queues[EMAIL_QUEUE].qsize()
    finally:
        services.close()
        engine.dispose()
    say(f"{len(sent):,} deliveries already sent; {queued} jobs queued by the sweeps (expected 0)")
    say(
        f"hourly check in full: p50 {percentile(full, 0.5):.0f} ms, "
        f"p95 {percentile(full, 0.95):.0f} ms ({runs} runs)"
    )
    say(
        f"sweep between: nothing changed p50 {percentile(quiet, 0.5):.1f} ms, "
        f"p95 {percentile(quiet, 0.95):.1f} ms; after 1,000 users visited {busy:.0f} ms"
    )
    return percentile(full, 0.95), percentile(quiet, 0.95), busy, queued


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200, help="returning users pinging")
    parser.add_argument("--rounds", type=int, default=5, help="pings per user per phase")
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--sweep-users", type=int, default=100_000)
    parser.add_argument("--sweep-runs", type=int, default=10)
    args = parser.parse_args(argv)
    with fresh_schema(server_url()) as url:
        upgrade(url)
        before, after, p50, p95 = auto_message_cost(url, args.users, args.rounds)
        rate = email_rate(url, args.emails)
    with fresh_schema(server_url()) as url:
        upgrade(url)
        full_p95, quiet_p95, busy, queued = sweep_cost(url, args.sweep_users, args.sweep_runs)
    print_summary(
        [
            Figure("ping p95, no auto messages", before, "ms"),
            Figure("ping p95, 20 live auto messages", after, "ms"),
            Figure("added by matching, p50", p50, "ms"),
            Figure(
                "added by matching, p95",
                p95,
                "ms",
                f"< {P95_TARGET_MS:.0f} ms",
                p95 < P95_TARGET_MS,
            ),
            Figure("emails rendered + sent per second (one worker thread)", rate, "/s"),
            Figure("hourly full check of 20 auto emails, p95", full_p95, "ms"),
            Figure("sweep between, nothing changed, p95", quiet_p95, "ms"),
            Figure("sweep after 1,000 users visited", busy, "ms"),
            Figure("jobs queued by sweeps with nothing due", queued, "", "0", queued == 0),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
