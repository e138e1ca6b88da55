"""Rate limits as Intercom 1.x had them: each app's REST calls a minute, told in headers on
every answer, 429 `rate_limit_exceeded` past it with nothing done, counted together by every
web process through Redis; and the conversations one user may start from the widget."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from tests.helpers import basic, post
from web.app import create_app as create_web_app
from web.bootstrap import Services, bootstrap, migrate
from web.config import Config

LIMIT = 5


@pytest.fixture
def config(database_url: str, tmp_path: object) -> Config:
    return Config(
        database_url=database_url,
        secret_key="test",
        outbox_dir=f"{tmp_path}/outbox",
        sweep_seconds=0,
        rate_limit_per_minute=LIMIT,
        widget_conversations_per_hour=2,
    )


def test_every_answer_says_where_the_app_stands_and_past_the_limit_nothing_is_done(
    client: FlaskClient, auth: dict[str, str], services: Services, clock: ManualClock
) -> None:
    other = basic(create_app(CreateApp("Other"), services.store, clock))
    remaining = []
    for n in range(LIMIT):
        answer = post(client, "/users", auth, {"user_id": f"u{n}"})
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Limit"] == str(LIMIT)
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
        reset = int(answer.headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 61
    assert remaining == [4, 3, 2, 1, 0]
    head = services.store.head()
    refused = post(client, "/users", auth, {"user_id": "one-too-many"})
    assert refused.status_code == 429
    (error,) = refused.get_json()["errors"]
    assert refused.get_json()["type"] == "error.list" and error["code"] == "rate_limit_exceeded"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert services.store.head() == head  # the refused call did nothing
    assert client.get("/users?user_id=u0", headers=auth).status_code == 429  # reads count too
    # Another app has its own count; a wrong key is not counted against anyone.
    assert client.get("/users", headers=other).headers["X-RateLimit-Remaining"] == "4"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"nope:nope").decode()}
    assert client.get("/users", headers=wrong).status_code == 401


def test_web_processes_count_together_through_redis(
    config: Config, clock: ManualClock, database_url: str
) -> None:
    shared = replace(config, redis_url="redis://127.0.0.1:6379/0")
    migrate(shared)
    services = bootstrap(shared, clock)
    webs = [create_web_app(services=services) for _ in range(2)]
    try:
        app = create_app(CreateApp(f"Acme {uuid.uuid4().hex}"), services.store, clock)
        auth = basic(app)
        first, second = (web.test_client() for web in webs)
        seen = [
            (first if n % 2 else second).get("/counts", headers=auth).status_code
            for n in range(LIMIT + 2)
        ]
        assert seen == [200] * LIMIT + [429, 429]  # one count, whichever process answers
    finally:
        for web in webs:
            web.extensions["parley_jobs"].stop()
            web.extensions["parley_live"].stop()
        services.close()


def test_a_user_starts_only_so_many_conversations_from_the_widget_an_hour(
    client: FlaskClient, app: CreatedApp, services: Services
) -> None:
    def write(user_id: str, body: str) -> tuple[int, dict[str, object]]:
        given = {"app_id": app.app_id, "user_id": user_id, "body": body}
        answer = client.post("/widget/conversations", data=json.dumps(given))
        return answer.status_code, answer.get_json()

    for user_id in ("ann", "bob"):
        ping = {"app_id": app.app_id, "user": {"user_id": user_id}, "url": "https://a.io/"}
        assert client.post("/widget/ping", data=json.dumps(ping)).status_code == 200
    assert [write("ann", f"Help {n}")[0] for n in range(2)] == [200, 200]
    head = services.store.head()
    status, body = write("ann", "Help again")
    assert status == 429 and "2 new conversations an hour" in json.dumps(body)
    assert services.store.head() == head  # no conversation, no email to the team
    assert write("bob", "Hello")[0] == 200  # someone else is not held back
