"""Dashboard benchmark: `make bench` (or `.venv/bin/python -m bench.dashboard [--quick]`).

The user list page as a signed-in teammate gets it: the whole HTML response (sign-in check,
the list with its exact total, the filter bar's choices, the side's segments and tags, the
template), timed in the server with Flask's test client, for --users users (1,000,000 by
default) on PostgreSQL, written straight into the projection tables as bench/audience.py
does (bench/population.py). The app's audience index is built first, as it is for any app
that large in a running server. Timed: the unfiltered first page, a three-condition filter
(custom data, a number, a date), the same filter's next page, and a search by name.
Target: p95 < 150 ms for the filtered page on PostgreSQL; SQLite (--sqlite-users) within 3x.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from bench.common import Figure, fresh_schema, percentile, print_summary, say, section, server_url
from bench.population import APP, NOW, SQLITE_FACTOR, build_population, load
from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, add_admin
from commands.clock import ManualClock
from domain.app import App, hash_api_key
from migrations import upgrade
from projections.db import make_engine
from web.app import create_app
from web.bootstrap import bootstrap
from web.config import Config

TARGET_MS = 150.0
PASSWORD = "bench password, long enough"
THREE = {
    "all": [
        {"attribute": "custom.plan", "operator": "is", "value": "pro"},
        {"attribute": "session_count", "operator": "gt", "value": 5},
        {"attribute": "last_seen_at", "operator": "less_than_days_ago", "value": 90},
    ]
}


def signed_in(client: FlaskClient) -> None:
    page = client.get("/signin").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no sign-in form"
    form = {"email": "bench@example.com", "password": PASSWORD, "csrf_token": found.group(1)}
    assert client.post("/signin", data=form).status_code == 302, "could not sign in"


def timed(
    client: FlaskClient, path: str, query: dict[str, Any], runs: int
) -> tuple[list[float], str]:
    samples: list[float] = []
    body = ""
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, query_string=query or None)
        body = response.get_data(as_text=True)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, body[:500]
    return samples, body


def total_of(body: str) -> str:
    found = re.search(r'<p class="total" id="total">([^<]+)</p>', body)
    return found.group(1) if found else "?"


def measure(label: str, url: str, size: int, runs: int) -> list[Figure]:
    section(f"{label}: {size:,} users")
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    population = build_population(size)
    load(engine, population)
    engine.dispose()
    say(f"built and loaded in {time.perf_counter() - started:.1f} s")
    del population.users[:]
    clock = ManualClock()
    clock.set(NOW)
    with tempfile.TemporaryDirectory() as folder:
        config = Config(database_url=url, secret_key="bench", outbox_dir=folder, sweep_seconds=0)
        services = bootstrap(config, clock)
        try:
            app = App(app_id=APP, name="Bench", api_key_hash=hash_api_key("x"), secret="s", at=NOW)
            services.store.save_all(app)
            add_admin(AddAdmin(APP, "bench@example.com", "Bench"), services.store, clock)
            set_password(SetPassword("bench@example.com", PASSWORD), services.store, clock)
            if services.indexes is not None:
                started = time.perf_counter()
                services.indexes.build(APP)
                say(f"audience index built in {time.perf_counter() - started:.1f} s")
            web = create_app(services=services, follow=False)
            client = web.test_client()
            signed_in(client)
            path = f"/apps/{APP}/users"
            three = {"filter": json.dumps(THREE)}
            cases: list[tuple[str, dict[str, Any]]] = [
                ("every user, first page", {}),
                ("3-condition filter, first page", three),
                ("search 'ann'", {"q": "ann"}),
            ]
            _, first = timed(client, path, three, 1)
            following = re.search(r'href="([^"]+)" rel="next"', first)
            figures: list[Figure] = []
            for name, query in cases:
                samples, body = timed(client, path, query, runs)
                figures.append(_figure(label, name, samples, body, name.startswith("3-")))
            if following:
                next_path = following.group(1).replace("&amp;", "&")
                samples, body = timed(client, next_path, {}, runs)
                figures.append(_figure(label, "3-condition filter, next page", samples, body, True))
            return figures
        finally:
            services.close()


def _figure(label: str, name: str, samples: list[float], body: str, targeted: bool) -> Figure:
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    say(f"{name:<34} {total_of(body):>22}   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    limit = TARGET_MS * (SQLITE_FACTOR if label == "SQLite" else 1)
    if not targeted:
        return Figure(f"{label} p95: {name}", p95, "ms")
    return Figure(f"{label} p95: {name}", p95, "ms", f"< {limit:.0f} ms", p95 < limit)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1_000_000, help="PostgreSQL population")
    parser.add_argument("--sqlite-users", type=int, default=100_000, help="SQLite population")
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    parser.add_argument("--quick", action="store_true", help="100,000 / 20,000 users, 10 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.sqlite_users, args.runs = 100_000, 20_000, 10
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with fresh_schema(server_url()) as url:
        figures = measure("PostgreSQL", url, args.users, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'dashboard.db'}"
        figures += measure("SQLite", url, args.sqlite_users, args.runs)
    print_summary(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
