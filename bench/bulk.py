"""Bulk import benchmark: `.venv/bin/python -m bench.bulk` (also run by `make bench`).

The real server (`parley serve`: gunicorn, its projection runner and the reactions' in-process
workers, as `make run` has it) on a fresh PostgreSQL schema (`--sqlite`: a SQLite file), one
app. Two ways to bring an existing user base in, in the same run:

1. one `POST /users` at a time over a keep-alive connection (`--single` users), each answered
   once the projections show it, as the REST API does;
2. `POST /bulk/users`, 1,000 users a request (`--users` in all; 1,000,000 by default), sent one
   after another as soon as each is taken (202), then until every job is done (`GET /jobs/{id}`
   says `completed`): users/s from the first request to the last job done.

Target (the issue): bulk users/s at least 5x the one-at-a-time users/s. Each user has an email,
a name, two custom attributes and one of 500 companies. The rate limit is lifted for the run
(RATE_LIMIT_PER_MINUTE): the figures are Parley's, not the limit's.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bench.common import (
    Figure,
    free_port,
    fresh_schema,
    print_summary,
    say,
    section,
    server_url,
)
from bench.ingest.run import report_load
from bench.ingest.server import Client, parley, running_server

TARGET_RATIO = 5.0
PER_REQUEST = 1000


def user(n: int) -> dict[str, object]:
    return {
        "user_id": f"imported-{n}",
        "email": f"user{n}@example.org",
        "name": f"User {n}",
        "signed_up_at": 1_600_000_000 + n,
        "custom_attributes": {"plan": ("free", "pro", "team")[n % 3], "seats": n % 50},
        "companies": [{"company_id": f"co-{n % 500}", "name": f"Company {n % 500}"}],
    }


@contextmanager
def database(sqlite: bool) -> Iterator[str]:
    if sqlite:
        with tempfile.TemporaryDirectory(prefix="parley-bulk-") as folder:
            yield f"sqlite:///{folder}/parley.db"
    else:
        with fresh_schema(server_url()) as url:
            yield url


def headers(app_id: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{app_id}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def one_at_a_time(client: Client, auth: dict[str, str], count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        status, body = client.request("POST", "/users", json.dumps(user(-1 - n)).encode(), auth)
        if status != 200:
            raise RuntimeError(f"POST /users: {status} {body[:300]!r}")
    return count / (time.perf_counter() - started)


def in_bulk(client: Client, auth: dict[str, str], count: int) -> tuple[float, float, int]:
    """(users/s from the first request to the last job done, and to every projection showing
    them; items refused)."""
    started = time.perf_counter()
    jobs: list[str] = []
    for first in range(0, count, PER_REQUEST):
        items = [
            {"method": "post", "data_type": "user", "data": user(n)}
            for n in range(first, min(count, first + PER_REQUEST))
        ]
        status, body = client.request(
            "POST", "/bulk/users", json.dumps({"items": items}).encode(), auth
        )
        if status != 202:
            raise RuntimeError(f"POST /bulk/users: {status} {body[:300]!r}")
        jobs.append(json.loads(body)["id"])
        if len(jobs) % 100 == 0:
            so_far = time.perf_counter() - started
            say(f"  {len(jobs) * PER_REQUEST:,} users taken in {so_far:.0f} s")
    say(f"the requests were all taken in {time.perf_counter() - started:.0f} s")
    refused = 0
    for job_id in jobs:  # in order: the workers take them in order too
        while True:
            status, body = client.request("GET", f"/jobs/{job_id}", None, auth)
            found = json.loads(body)
            if found["state"] != "running":
                refused += found["tasks"][0]["failed"]
                break
            time.sleep(0.2)
    done = time.perf_counter() - started
    while True:  # and until the lists show them all
        health = client.get_json("/health")
        if all(p["lag"] == 0 for p in health["projections"].values()):
            break
        time.sleep(0.5)
    listed = time.perf_counter() - started
    say(f"every job done in {done:.0f} s, every list showing them in {listed:.0f} s")
    return count / done, count / listed, refused


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1_000_000, help="users imported in bulk")
    parser.add_argument("--single", type=int, default=2_000, help="users POSTed one at a time")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    args = parser.parse_args(argv)
    report_load("before")
    with database(args.sqlite) as url:
        port = free_port()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=url,
            PORT=str(port),
            HOST="127.0.0.1",
            SECRET_KEY="bench",
            RATE_LIMIT_PER_MINUTE="100000000",
            OUTBOX_DIR=tempfile.mkdtemp(prefix="parley-bulk-outbox-"),
        )
        env.pop("REDIS_URL", None)
        parley(env, "migrate")
        key = json.loads(parley(env, "app", "create", "Bulk").strip().splitlines()[-1])
        app_id, api_key = key["app_id"], key["api_key"]
        with running_server(env, port):
            client = Client(port)
            auth = headers(app_id, api_key)
            section(f"1. {args.single:,} users, one POST /users at a time")
            single = one_at_a_time(client, auth, args.single)
            say(f"{single:,.0f} users/s")
            section(f"2. {args.users:,} users through POST /bulk/users, {PER_REQUEST:,} a request")
            bulk, shown, refused = in_bulk(client, auth, args.users)
            say(f"{bulk:,.0f} users/s recorded, {shown:,.0f} users/s shown in the lists")
            client.close()
    ratio = bulk / single
    report_load("after")
    print_summary(
        [
            Figure("one POST /users at a time", single, "users/s"),
            Figure("POST /bulk/users, recorded", bulk, "users/s"),
            Figure("POST /bulk/users, in the lists", shown, "users/s"),
            Figure("bulk / one at a time", ratio, "x", f">= {TARGET_RATIO:.0f}x", ratio >= 5),
            Figure("bulk items refused", refused, "", "= 0", refused == 0),
        ]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
