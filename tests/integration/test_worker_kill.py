"""A `parley worker` process killed mid-send (SIGKILL, as the OOM killer or a lost machine
would) on PostgreSQL and Redis: the email it was sending is never sent a second time, and an
email it had only claimed is sent once by the worker that takes over."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select

from commands.apps import CreateApp, create_app
from commands.clock import ManualClock
from domain.delivery import SENT, UNCERTAIN, Delivery, delivery_key
from projections.tables import deliveries
from tests.e2e.test_cli import PARLEY
from tests.helpers import free_port, ping
from tests.integration.test_delivery import news
from web.bootstrap import Services
from workers.jobs import Jobs
from workers.reactions import follow
from workers.sweep import Sweeper

REDIS = "redis://127.0.0.1:6379/9"  # a database of its own: emptied before and after


class StallingInbox:
    """Takes each email, then holds back its answer until told: a send the worker started
    and the server received, but whose outcome the worker never learns if it dies now."""

    def __init__(self) -> None:
        self.received: list[email.message.Message] = []
        self.arrived = threading.Event()
        self.answer = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        while not self.answer.is_set():
            await asyncio.sleep(0.02)
        return "250 Message accepted"


@pytest.fixture
def stalling_smtp() -> Iterator[tuple[StallingInbox, int]]:
    inbox = StallingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    inbox.answer.set()
    controller.stop()


@pytest.fixture
def empty_redis() -> Iterator[str]:
    store = redis.Redis.from_url(REDIS)
    store.flushdb()
    yield REDIS
    store.flushdb()
    store.close()


def worker(services: Services, port: int, cwd: Path, threads: int = 1) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": services.config.database_url,
        "REDIS_URL": REDIS,
        "SMTP_URL": f"smtp://127.0.0.1:{port}",
        "SECRET_KEY": "test",
        "SWEEP_SECONDS": "0",  # the test sweeps by hand, at a moment it chooses
    }
    process = subprocess.Popen(
        [PARLEY, "worker", "--threads", str(threads)],
        env=env,
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    assert f"parley worker: {threads} threads" in process.stderr.readline()
    # Keep reading what it logs, or a full pipe would stop it mid-work.
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return process


def state(services: Services, message_id: str, user_key: str) -> str:
    found = services.store.get_as(Delivery, delivery_key(message_id, user_key, "email"))
    return found.state if found is not None else "none"


@contextmanager
def reacting(services: Services, broker: RedisBroker) -> Iterator[Jobs]:
    """The side that queues (the reactions, following the log), working nothing itself."""
    jobs = Jobs(services, broker)
    running = follow(services, jobs)
    try:
        yield jobs
    finally:
        for follower in running:
            follower.stop()


def test_a_worker_killed_mid_send_never_sends_twice(
    pg_services: Services,
    stalling_smtp: tuple[StallingInbox, int],
    empty_redis: str,
    tmp_path: Path,
    clock: ManualClock,
) -> None:
    services = pg_services
    inbox, port = stalling_smtp
    created = create_app(CreateApp("Kill"), services.store, services.clock)
    keys = [
        ping(services, created.app_id, {"user_id": who, "email": f"{who}@x.io"}).user.id.hex
        for who in ("a", "b")
    ]
    services.runner.catch_up()
    broker = RedisBroker(url=empty_redis, namespace="parley")
    try:
        with reacting(services, broker) as jobs:
            message = news(services, created.app_id, None)  # claimed for both, sends queued
            doomed = worker(services, port, tmp_path)
            try:
                assert inbox.arrived.wait(30), "the worker never reached the mail server"
                doomed.send_signal(signal.SIGKILL)
                doomed.wait(10)
            finally:
                if doomed.poll() is None:
                    doomed.kill()
            inbox.answer.set()  # the server kept the email: it went out once
            states = sorted(state(services, message.id.hex, key) for key in keys)
            assert states == ["claimed", "sending"]  # the other one never started
            (first,) = [k for k in keys if state(services, message.id.hex, k) == "sending"]
            (second,) = [k for k in keys if k != first]

            # Minutes later the sweep finds both stalled: one cut off mid-send, one whose
            # queued send died with the worker. A new worker takes over both.
            services.runner.catch_up()
            clock.set(datetime.now(UTC) + timedelta(minutes=10))
            assert Sweeper(jobs).sweep()["stalled"] == 2
            successor = worker(services, port, tmp_path)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and (
                    state(services, message.id.hex, first) != UNCERTAIN
                    or state(services, message.id.hex, second) != SENT
                ):
                    time.sleep(0.1)
            finally:
                successor.send_signal(signal.SIGTERM)
                successor.wait(30)
    finally:
        broker.close()
    assert state(services, message.id.hex, first) == UNCERTAIN  # shown, and never retried
    assert state(services, message.id.hex, second) == SENT
    assert sorted(str(m["To"]) for m in inbox.received) == ["a@x.io", "b@x.io"]


def test_a_bulk_email_to_300_users_survives_its_only_worker_killed_mid_way(
    pg_services: Services, smtp: Any, empty_redis: str, tmp_path: Path, clock: ManualClock
) -> None:
    """Every user gets the email once, or is shown `uncertain`; nobody gets it twice."""
    services = pg_services
    inbox, port = smtp
    created = create_app(CreateApp("Bulk"), services.store, services.clock)
    for n in range(300):
        ping(services, created.app_id, {"user_id": f"u{n}", "email": f"u{n}@x.io"})
    services.runner.catch_up()
    broker = RedisBroker(url=empty_redis, namespace="parley")
    try:
        with reacting(services, broker) as jobs:
            message = news(services, created.app_id, None)
            doomed = worker(services, port, tmp_path)
            deadline = time.monotonic() + 60
            while len(inbox.received) < 40 and time.monotonic() < deadline:
                time.sleep(0.01)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
            services.runner.catch_up()
            clock.set(datetime.now(UTC) + timedelta(minutes=10))
            Sweeper(jobs).sweep()  # takes over the stalled sends
            successor = worker(services, port, tmp_path, threads=4)
            try:
                deadline = time.monotonic() + 120
                while (
                    time.monotonic() < deadline
                    and sum(
                        1 for s in states_of(services, message.id.hex) if s in ("sent", "uncertain")
                    )
                    < 300
                ):
                    time.sleep(0.2)
            finally:
                successor.send_signal(signal.SIGTERM)
                successor.wait(60)
    finally:
        broker.close()
    received = Counter(str(m["To"]) for m in inbox.received)
    assert max(received.values()) == 1  # nobody twice
    final = Counter(states_of(services, message.id.hex))
    assert sum(final.values()) == 300 and set(final) <= {"sent", "uncertain"}
    # Each sent one arrived; an uncertain one (cut off mid-send) arrived at most once.
    assert final["sent"] <= len(received) <= final["sent"] + final["uncertain"]


def states_of(services: Services, message_id: str) -> list[str]:
    services.runner.catch_up()
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.state).where(deliveries.c.message_id == message_id)
        ).scalars()
        return list(rows)
