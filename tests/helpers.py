"""Small builders shared by tests: pings and REST calls as a customer would send them."""

from __future__ import annotations

import base64
import socket
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from commands.apps import CreatedApp
from commands.handling import handle
from commands.schemas import PingSchema
from commands.users import Ping, Saved, record_ping
from projections.tables import users
from web.bootstrap import Services
from workers.jobs import EMAIL_QUEUE


def ping(
    services: Services,
    app_id: str,
    settings: dict[str, Any],
    url: str = "https://app.example.com/",
    referrer: str | None = None,
    ip: str | None = "81.2.69.142",
) -> Saved:
    """A snippet boot/update through the same schema and handler as the HTTP endpoint."""
    loaded: Ping = PingSchema().load(
        {"app_id": app_id, "user": settings, "url": url, "referrer": referrer}
    )
    cmd = Ping(**{**loaded.__dict__, "ip": ip, "user_agent": "Mozilla/5.0 (X11; Linux)"})
    return handle(record_ping, cmd, services.store, services.clock, services.locate)


def user_rows(services: Services, app_id: str) -> list[dict[str, Any]]:
    services.runner.catch_up()
    with services.engine.connect() as conn:
        query = (
            select(users)
            .where(users.c.app_id == app_id)
            .order_by(users.c.created_at, users.c.user_id, users.c.email)
        )
        return [dict(r) for r in conn.execute(query).mappings()]


def basic(app: CreatedApp) -> dict[str, str]:
    """HTTP Basic credentials for the REST API: app_id and API key."""
    token = base64.b64encode(f"{app.app_id}:{app.api_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def post(client: FlaskClient, path: str, auth: dict[str, str], body: Any) -> Any:
    return client.post(path, json=body, headers=auth)


def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settle(web: Flask, timeout: float = 20.0) -> None:
    """Let the reactions see everything recorded so far and the queued work finish, until
    that work records nothing more (a fan-out's claims queue sends, and so on)."""
    services = web.extensions["parley"]
    jobs = web.extensions["parley_jobs"]
    deadline = time.monotonic() + timeout
    while True:
        head = services.store.head()
        for follower in web.extensions["parley_followers"]:
            assert follower.wait_for(head, timeout), "the reactions did not catch up"
        jobs.broker.join(EMAIL_QUEUE, timeout=int(timeout * 1000))
        if services.store.head() == head or time.monotonic() > deadline:
            services.runner.catch_up()
            return
