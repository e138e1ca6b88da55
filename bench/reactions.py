"""Reaction latency: `.venv/bin/python -m bench.reactions` (also run by `make bench`).

A user's reply in a conversation becomes a teammate's notification email by way of the log:
the reply is recorded, the `reactions` follower sees it and queues the email, a worker sends
it. This measures, on PostgreSQL with the in-process queue and a real SMTP server (aiosmtpd)
on loopback, the time from the reply's HTTP request to the email handed to SMTP, for a few
hundred replies one after another. Target: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiosmtpd.controller import Controller

from bench.common import (
    Figure,
    free_port,
    fresh_schema,
    percentile,
    print_summary,
    say,
    section,
    server_url,
)
from commands.apps import AddAdmin, CreateApp, add_admin, create_app
from commands.conversations import SetDefaultAssignee, set_default_assignee
from web.app import create_app as create_web_app
from web.bootstrap import bootstrap, migrate
from web.config import Config

TARGET_MS = 1000.0


class Arrivals:
    """An SMTP server's handler noting when each email, named by its token, arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        moment = time.monotonic()
        text = envelope.content.decode("utf-8", "replace")
        for word in text.split():
            if word.startswith("tok") and len(word) == 35:
                with self.changed:
                    self.at.setdefault(word, moment)
                    self.changed.notify_all()
        await asyncio.sleep(0)
        return "250 Message accepted"

    def wait_for(self, tokens: Sequence[str], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self.changed:
            while not all(t in self.at for t in tokens) and time.monotonic() < deadline:
                self.changed.wait(0.1)


def measure(replies: int, url: str) -> list[float]:
    arrivals = Arrivals()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=free_port())
    smtp.start()
    config = Config(database_url=url, secret_key="bench", sweep_seconds=0)
    config = replace(config, smtp_url=f"smtp://127.0.0.1:{smtp.port}")
    migrate(config)
    services = bootstrap(config)
    services.runner.start()
    web = create_web_app(services=services, follow=True)
    client = web.test_client()
    try:
        created = create_app(CreateApp("Bench"), services.store, services.clock)
        add_admin(
            AddAdmin(created.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock
        )
        set_default_assignee(
            SetDefaultAssignee(created.app_id, "1"), services.store, services.clock
        )
        auth = {"Authorization": basic(created.app_id, created.api_key)}
        conversations = []
        for n in range(replies):
            given = {"from": {"type": "user", "user_id": f"u{n}"}, "body": f"Hello {n}"}
            client.post("/users", json={"user_id": f"u{n}", "email": f"u{n}@x.io"}, headers=auth)
            started = client.post("/messages", json=given, headers=auth).get_json()
            conversations.append(started["id"])
        time.sleep(2.0)  # the opening notifications go first
        sent: dict[str, float] = {}
        for n, conversation_id in enumerate(conversations):
            token = "tok" + uuid.uuid4().hex
            reply = {"type": "user", "user_id": f"u{n}", "message_type": "comment"}
            sent[token] = time.monotonic()
            answer = client.post(
                f"/conversations/{conversation_id}/reply",
                json={**reply, "body": f"Still stuck {token}"},
                headers=auth,
            )
            assert answer.status_code == 200, answer.get_json()
            time.sleep(0.01)
        arrivals.wait_for(list(sent), 60.0)
        missing = [t for t in sent if t not in arrivals.at]
        if missing:
            say(f"{len(missing)} of {len(sent)} emails never arrived")
        return [(arrivals.at[t] - sent[t]) * 1000 for t in sent if t in arrivals.at]
    finally:
        for follower in web.extensions["parley_followers"]:
            follower.stop()
        web.extensions["parley_jobs"].stop()
        services.close()
        smtp.stop()


def basic(app_id: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{app_id}:{api_key}".encode()).decode()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replies", type=int, default=300, help="replies measured (300)")
    args = parser.parse_args(argv)
    section(f"Reaction latency: a user's reply to the teammate's email at SMTP ({args.replies})")
    with fresh_schema(server_url()) as url:
        latencies = measure(args.replies, url)
    p50, p95, p99 = (percentile(latencies, f) for f in (0.5, 0.95, 0.99))
    say(f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, max {max(latencies):.0f} ms")
    print_summary(
        [
            Figure("reply -> teammate's email at SMTP, p50", p50, "ms"),
            Figure("reply -> teammate's email at SMTP, p99", p99, "ms", "< 1000", p99 < TARGET_MS),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
