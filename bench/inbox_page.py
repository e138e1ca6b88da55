"""Inbox page benchmark: `.venv/bin/python -m bench.inbox_page` (also run by `make bench`).

The dashboard's inbox as a signed-in teammate gets it: the whole HTML response of
`/apps/<app>/inbox?view=mine|unassigned|all&state=open|closed` (sign-in check, the page of 25
rows with their total, the tabs' counts, the users' names, the template), the list fragment an
open dashboard fetches on each live change, and `/apps/<app>/inbox/<id>` (one 20-part
conversation from the event store beside the list), timed in the server with Flask's test
client. 100,000 conversations (--conversations) of 10 teammates and 20,000 users are COPYed
into the projections on PostgreSQL as bench/inbox.py does, with their inbox lines; the
conversation opened is a real one, written through the commands and projected.
Target: p95 < 100 ms for every page.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient

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
from bench.dashboard import PASSWORD, signed_in
from bench.inbox import ADMINS, APP, USERS, load_inbox
from bench.population import build_population
from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import SystemClock
from commands.conversations import Reply, StartConversation, reply, start_by_user
from commands.users import Ping, UserInput, record_ping
from domain.app import App, hash_api_key
from migrations import upgrade
from projections.db import make_engine
from projections.tables import users
from web.app import create_app
from web.bootstrap import Services, bootstrap
from web.config import Config

TARGET_MS = 100.0
API_KEY = "bench-api-key"  # the REST API's password for APP (bench/live.py)
ME = "1"  # the signed-in teammate (bench@example.com): the first added


def load_users(url: str, size: int) -> None:
    """The users the conversations name (bench/inbox.py's keys), for the list's names."""
    population = build_population(size)
    for n, row in enumerate(population.users):
        row.update(id=f"{n:032x}", app_id=APP)
    engine = make_engine(url)
    try:
        copy_rows(engine, users, population.users)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE users")
    finally:
        engine.dispose()


def team(services: Services) -> None:
    """The app and its 10 teammates; the first (ME) can sign in."""
    clock = services.clock
    at = clock.now()
    services.store.save_all(
        App(app_id=APP, name="Inbox", api_key_hash=hash_api_key(API_KEY), secret="s", at=at)
    )
    add_admin(AddAdmin(APP, "bench@example.com", "Bench"), services.store, clock)
    for n in ADMINS[1:]:
        add_admin(AddAdmin(APP, f"mate{n}@example.com", f"Mate {n}"), services.store, clock)
    set_password(SetPassword("bench@example.com", PASSWORD), services.store, clock)


def real_conversation(services: Services, user_id: str = "ann", parts: int = 20) -> str:
    """A conversation of `parts` parts through the commands, as the page loads it."""
    store, clock = services.store, services.clock
    user = UserInput(user_id=user_id, email=f"{user_id}@example.com", attributes={"name": "Ann"})
    key = record_ping(Ping(app_id=APP, user=user), store, clock).user.id.hex
    started = start_by_user(StartConversation(APP, key, "Hello? My export fails."), store, clock)
    for n in range(parts - 1):
        author = {"type": "admin", "id": ME} if n % 2 else {"type": "user", "id": key}
        words = f"Part {n}: **still** failing, see https://example.com/log/{n}"
        reply(Reply(APP, started.conversation_id, author, "comment", body=words), store, clock)
    return started.conversation_id


@contextmanager
def populated(url: str, size: int) -> Iterator[Services]:
    """The schema, `size` conversations and their users COPYed, the app and its team; the
    services over it (projections caught up by the caller after adding more)."""
    upgrade(url)
    engine = make_engine(url)
    try:
        load_inbox(engine, size)
    finally:
        engine.dispose()
    load_users(url, USERS)
    with tempfile.TemporaryDirectory() as folder:
        config = Config(database_url=url, secret_key="bench", outbox_dir=folder, sweep_seconds=0)
        services = bootstrap(config, SystemClock())
        try:
            team(services)
            yield services
        finally:
            services.close()


def timed(
    client: FlaskClient, path: str, runs: int, headers: dict[str, str] | None = None
) -> tuple[list[float], str]:
    client.get(path, headers=headers)  # warm (and the first opening marks it read)
    samples: list[float] = []
    body = ""
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        body = response.get_data(as_text=True)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, body[:500]
    return samples, body


def rows_shown(body: str) -> int:
    return len(re.findall(r"data-conversation", body))


def measure(url: str, size: int, runs: int) -> list[Figure]:
    with populated(url, size) as services:
        opened = real_conversation(services)
        services.runner.catch_up()
        client = create_app(services=services, follow=False).test_client()
        signed_in(client)
        return pages(client, opened, size, runs)


def pages(client: FlaskClient, opened: str, size: int, runs: int) -> list[Figure]:
    section(f"Dashboard inbox pages over {size:,} conversations (server time, test client)")
    base = f"/apps/{APP}/inbox"
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (f"{view} {state}", f"{base}?view={view}&state={state}", {})
        for view in ("mine", "unassigned", "all")
        for state in ("open", "closed")
    ]
    cases.append(
        (
            "all open, list fragment (live)",
            f"{base}?part=list&view=all&state=open",
            {"HX-Request": "true"},
        )
    )
    cases.append(("a 20-part conversation", f"{base}/{opened}?view=all&state=open", {}))
    figures = []
    for name, path, headers in cases:
        samples, body = timed(client, path, runs, headers or None)
        assert "A deleted user" not in body, "a conversation's user is not in the users table"
        assert "Part 18" in body or "/inbox/" not in path, "the conversation's parts are missing"
        p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        say(
            f"{name:<32} {rows_shown(body):>3} rows  {len(body) / 1024:5.0f} KB   "
            f"p50 {p50:6.1f} ms   p95 {p95:6.1f} ms"
        )
        figures.append(
            Figure(f"p95: inbox page, {name}", p95, "ms", f"< {TARGET_MS:.0f} ms", p95 < TARGET_MS)
        )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    args = parser.parse_args(argv)
    with fresh_schema(server_url()) as url:
        figures = measure(url, args.conversations, args.runs)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
