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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from dramatiq.brokers.redis import RedisBroker

from commands.apps import CreateApp, create_app
from commands.clock import ManualClock
from domain.delivery import SENT, UNCERTAIN, Delivery, delivery_key
from tests.helpers import free_port, ping
from tests.test_cli import PARLEY
from tests.test_delivery import news
from web.bootstrap import Services
from workers.jobs import Jobs
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


def worker(services: Services, port: int, cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": services.config.database_url,
        "REDIS_URL": REDIS,
        "SMTP_URL": f"smtp://127.0.0.1:{port}",
        "SECRET_KEY": "test",
        "SWEEP_SECONDS": "0",  # the test sweeps by hand, at a moment it chooses
    }
    process = subprocess.Popen(
        [PARLEY, "worker", "--threads", "1"], env=env, cwd=cwd, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    assert "parley worker: 1 threads" in process.stderr.readline()
    return process


def state(services: Services, message_id: str, user_key: str) -> str:
    found = services.store.get_as(Delivery, delivery_key(message_id, user_key, "email"))
    return found.state if found is not None else "none"


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
    first = ping(services, created.app_id, {"user_id": "a", "email": "a@x.io"}).user.id.hex
    second = ping(services, created.app_id, {"user_id": "b", "email": "b@x.io"}).user.id.hex
    message = news(services, created.app_id, None)
    broker = RedisBroker(url=empty_redis, namespace="parley")
    jobs = Jobs(services, broker)  # the web side: queues, works nothing
    try:
        jobs.email(message.id.hex, first, True)
        jobs.email(message.id.hex, second, True)
        doomed = worker(services, port, tmp_path)
        try:
            assert inbox.arrived.wait(30), "the worker never reached the mail server"
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
        finally:
            if doomed.poll() is None:
                doomed.kill()
        inbox.answer.set()  # the server kept the email: it went out once
        assert state(services, message.id.hex, first) == "sending"
        assert state(services, message.id.hex, second) == "none"  # never started

        # Minutes later the sweep finds the first delivery stalled; the second job is still
        # queued. A new worker takes over both.
        services.runner.catch_up()
        clock.set(datetime.now(UTC) + timedelta(minutes=10))
        assert Sweeper(jobs).sweep()["stalled"] == 1
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
