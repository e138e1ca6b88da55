"""Webhooks (Intercom 1.x subscriptions) against a real HTTP receiver started by the test:
the ping, signatures, topics in log order, retries with backoff after a 500, a receiver killed
and started again that then gets everything once each, a day of failures pausing the
subscription, and URLs that would reach the server's own network refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient

from commands.apps import CreatedApp
from commands.clock import ManualClock
from commands.webhooks import Subscribe, subscribe
from domain.errors import InvalidValue
from tests.helpers import free_port, post
from web.bootstrap import Services
from web.config import Config
from workers.webhooks import Sent, deliver, due_subscriptions

SECRET = "hub secret"


class Receiver:
    """An HTTP server on 127.0.0.1 that records what it is sent; it can fail on purpose, be
    stopped (a receiver that is down) and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.failing = 0  # answer this many requests with a 500
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.got.append((dict(self.headers), body))
                    fail = receiver.failing > 0
                    receiver.failing -= 1 if fail else 0
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def notifications(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _headers, body in self.got]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.got) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.got)} of {count}: {self.notifications()}"
            )
            time.sleep(0.02)
        return self.notifications()


@pytest.fixture
def config(database_url: str, tmp_path: object) -> Config:
    return Config(
        database_url=database_url,
        secret_key="test",
        outbox_dir=f"{tmp_path}/outbox",
        sweep_seconds=0,
        webhook_allow_private=True,  # the receiver is on 127.0.0.1
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    if found.server is not None:
        found.stop()


def subscribed(client: FlaskClient, auth: dict[str, str], url: str, topics: list[str]) -> str:
    made = post(
        client,
        "/subscriptions",
        auth,
        {"service_type": "web", "url": url, "topics": topics, "hub_secret": SECRET},
    )
    assert made.status_code == 200, made.get_json()
    assert made.get_json()["type"] == "notification_subscription"
    return str(made.get_json()["id"])


def send_now(client: FlaskClient, sid: str) -> Sent:
    """What the delivery job does, run here at the test clock's time (once no job of the
    worker's is at it: they take turns on a lease)."""
    s: Services = client.application.extensions["parley"]
    deadline = time.monotonic() + 60
    while (sent := deliver(s.store, s.engine, s.clock, sid, True)).busy:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return sent


def newest_after(
    client: FlaskClient, auth: dict[str, str], sid: str, attempts: int
) -> dict[str, Any]:
    """The newest delivery once its `attempts`-th attempt is recorded (the sender records an
    attempt after the receiver answered it)."""
    deadline = time.monotonic() + 20
    while (newest := deliveries(client, auth, sid)[0])["delivery_attempts"] < attempts:
        assert time.monotonic() < deadline, newest
        time.sleep(0.02)
    return newest


def due(client: FlaskClient) -> list[str]:
    """What the sweep would queue a delivery job for."""
    s: Services = client.application.extensions["parley"]
    with s.engine.connect() as conn:
        return due_subscriptions(conn, int(s.clock.now().timestamp()))


def deliveries(client: FlaskClient, auth: dict[str, str], sid: str) -> list[dict[str, Any]]:
    found = client.get(f"/subscriptions/{sid}/deliveries", headers=auth)
    assert found.status_code == 200, found.get_json()
    return list(found.get_json()["deliveries"])


def test_a_subscription_gets_its_topics_signed_in_log_order(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, receiver: Receiver
) -> None:
    topics = ["user.created", "user.tag.created", "event.created", "conversation.user.created"]
    sid = subscribed(client, auth, receiver.url, topics)
    (ping,) = receiver.wait_for(1)
    assert ping["topic"] == "ping" and ping["app_id"] == app.app_id
    for n in range(3):
        post(client, "/users", auth, {"user_id": f"u{n}", "email": f"u{n}@x.io"})
    post(client, "/companies", auth, {"company_id": "c1"})  # company.created: not subscribed
    post(client, "/tags", auth, {"name": "VIP", "users": [{"user_id": "u1"}]})
    event = {"event_name": "ordered", "created_at": 1_700_000_000, "user_id": "u2"}
    post(client, "/events", auth, {**event, "metadata": {"n": 3}})
    post(client, "/messages", auth, {"from": {"type": "user", "user_id": "u0"}, "body": "Hi"})
    got = receiver.wait_for(7)
    assert [n["topic"] for n in got] == [
        "ping",
        "user.created",
        "user.created",
        "user.created",
        "user.tag.created",
        "event.created",
        "conversation.user.created",
    ]
    assert [n["data"]["item"].get("user_id") for n in got[1:4]] == ["u0", "u1", "u2"]
    tagged = got[4]["data"]["item"]
    assert tagged["tag"]["name"] == "VIP" and tagged["user"]["user_id"] == "u1"
    assert got[5]["data"]["item"]["metadata"] == {"n": 3}
    assert got[6]["data"]["item"]["conversation_message"]["body"] == "<p>Hi</p>"  # as REST
    assert got[1]["data"]["item"]["unsubscribed_from_emails"] is False
    for (headers, body), sent in zip(receiver.got, got, strict=True):
        expected = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        assert headers["X-Hub-Signature"] == expected
        assert sent["type"] == "notification_event" and sent["delivery_attempts"] == 1
        assert sent["data"]["type"] == "notification_event_data"
    assert len({n["id"] for n in got}) == 7
    deadline = time.monotonic() + 20  # each is marked delivered once its answer is in
    listed = deliveries(client, auth, sid)
    while {d["state"] for d in listed} != {"delivered"}:
        assert time.monotonic() < deadline
        time.sleep(0.02)
        listed = deliveries(client, auth, sid)
    assert len(listed) == 7  # newest first
    assert listed[0]["topic"] == "conversation.user.created" and listed[0]["last_status"] == 200
    assert client.get("/subscriptions", headers=auth).get_json()["items"][0]["id"] == sid
    shown = client.get(f"/subscriptions/{sid}", headers=auth).get_json()
    assert shown["topics"] == topics and shown["active"] is True and "hub_secret" not in shown
    assert client.delete(f"/subscriptions/{sid}/", headers=auth).status_code == 200
    post(client, "/users", auth, {"user_id": "after"})
    assert client.get(f"/subscriptions/{sid}", headers=auth).status_code == 404
    assert client.get("/subscriptions", headers=auth).get_json()["items"] == []
    assert len(receiver.got) == 7  # nothing more once it is deleted


def test_a_notification_queued_while_a_sender_finishes_is_still_sent(
    client: FlaskClient, auth: dict[str, str], receiver: Receiver, monkeypatch: Any
) -> None:
    """The race CI once lost: a sender has found nothing left and is about to let go of its
    lease when a new notification is queued; the job kicked for it finds the lease held and
    ends. The sender must look again once it has let go, or the notification waits for ever
    (these tests run with no sweep)."""
    sid = subscribed(client, auth, receiver.url, ["user.created"])
    receiver.wait_for(1)
    assert send_now(client, sid) == Sent(0, None)  # the ping's sender has let go: all sent
    import workers.webhooks as sender

    real_lease, real_release = sender._lease, sender._release
    refused = threading.Event()
    me = threading.get_ident()

    def lease(*args: Any) -> bool:
        taken = real_lease(*args)
        if not taken and threading.get_ident() != me:
            refused.set()  # the kicked job found this test's sender at work
        return taken

    def release(*args: Any) -> None:
        if threading.get_ident() == me and not refused.is_set():
            post(client, "/users", auth, {"user_id": "late"})
            assert refused.wait(20), "the kicked job never tried"
        real_release(*args)

    monkeypatch.setattr(sender, "_lease", lease)
    monkeypatch.setattr(sender, "_release", release)
    s: Services = client.application.extensions["parley"]
    sent = deliver(s.store, s.engine, s.clock, sid, True)
    assert sent == Sent(1, None)
    assert receiver.wait_for(2)[-1]["data"]["item"]["user_id"] == "late"
    assert {d["state"] for d in deliveries(client, auth, sid)} == {"delivered"}


def test_retries_back_off_and_a_receiver_down_gets_everything_after_once_each(
    client: FlaskClient,
    auth: dict[str, str],
    receiver: Receiver,
    clock: ManualClock,
    services: Services,
) -> None:
    sid = subscribed(client, auth, receiver.url, ["user.created"])
    receiver.wait_for(1)
    receiver.failing = 2
    post(client, "/users", auth, {"user_id": "first"})
    receiver.wait_for(2)  # the first attempt: a 500
    pending = newest_after(client, auth, sid, 1)
    now = int(clock.now().timestamp())
    assert (pending["state"], pending["last_status"], pending["delivery_attempts"]) == (
        "pending",
        500,
        1,
    )
    assert pending["next_attempt_at"] == now + 5
    assert due(client) == [] and send_now(client, sid).delivered == 0  # not due yet
    assert len(receiver.got) == 2
    # Each time the clock reaches a retry, one attempt is due: made here or by the job the
    # failure planned (whichever comes first; they take turns on a lease).
    clock.advance(seconds=5)
    send_now(client, sid)
    receiver.wait_for(3)  # a 500 again: the next try 10 s later
    assert newest_after(client, auth, sid, 2)["next_attempt_at"] == now + 5 + 10
    clock.advance(seconds=10)
    send_now(client, sid)
    got = receiver.wait_for(4)
    attempts = got[1:]
    assert {n["id"] for n in attempts} == {pending["id"]}  # one notification, tried three times
    assert [n["delivery_attempts"] for n in attempts] == [1, 2, 3]
    assert {n["first_sent_at"] for n in attempts} == {now}
    assert newest_after(client, auth, sid, 3)["state"] == "delivered"

    # The receiver goes down for ten minutes; what happens meanwhile waits, in order.
    receiver.stop()
    for n in range(3):
        post(client, "/users", auth, {"user_id": f"while-down-{n}"})
    deadline = time.monotonic() + 20
    while len(listed := deliveries(client, auth, sid)) < 5 or listed[2]["delivery_attempts"] < 1:
        assert time.monotonic() < deadline  # the outbox has them, the oldest was refused
        time.sleep(0.02)
    waited = 0
    while waited < 600:  # retries at 5, 10, 20 ... seconds apart: ten minutes of them
        clock.advance(seconds=80)
        waited += 80
        send_now(client, sid)
    waiting = deliveries(client, auth, sid)[:3]
    assert [d["state"] for d in waiting] == ["pending"] * 3
    oldest = waiting[2]  # the oldest is tried; the others wait their turn behind it
    assert oldest["delivery_attempts"] == 7 and "refused" in oldest["last_error"].lower()
    assert waiting[0]["delivery_attempts"] == waiting[1]["delivery_attempts"] == 0
    receiver.got.clear()
    receiver.start()
    clock.advance(seconds=3600)
    send_now(client, sid)
    back = receiver.wait_for(3)
    assert [n["data"]["item"]["user_id"] for n in back] == [f"while-down-{n}" for n in range(3)]
    clock.advance(seconds=3600)
    assert send_now(client, sid) == Sent(0, None)  # nothing is pending: nothing goes twice
    assert len(receiver.got) == 3
    assert due(client) == []
    assert {d["state"] for d in deliveries(client, auth, sid)} == {"delivered"}


def test_a_day_of_failures_pauses_the_subscription_and_says_why(
    client: FlaskClient, auth: dict[str, str], receiver: Receiver, clock: ManualClock
) -> None:
    sid = subscribed(client, auth, receiver.url, ["user.created"])
    receiver.wait_for(1)
    receiver.failing = 10_000
    post(client, "/users", auth, {"user_id": "unlucky"})
    receiver.wait_for(2)
    newest_after(client, auth, sid, 1)  # recorded before the clock jumps past its lease
    clock.advance(hours=23)
    send_now(client, sid)
    receiver.wait_for(3)  # still within the day: tried again, and again later
    assert client.get(f"/subscriptions/{sid}", headers=auth).get_json()["active"] is True
    clock.advance(hours=1)
    send_now(client, sid)
    receiver.wait_for(4)  # a day of failures: paused after this one
    deadline = time.monotonic() + 20
    while (paused := client.get(f"/subscriptions/{sid}", headers=auth).get_json())["active"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "failing for a day" in paused["paused_reason"] and "HTTP 500" in paused["paused_reason"]
    tries = len(receiver.got)
    clock.advance(days=1)
    assert send_now(client, sid) == Sent(0, None)  # paused: not tried
    assert len(receiver.got) == tries
    receiver.failing = 0
    resumed = client.post(f"/subscriptions/{sid}/resume", headers=auth).get_json()
    assert resumed["active"] is True and resumed["paused_reason"] is None
    send_now(client, sid)
    assert receiver.wait_for(tries + 1)[-1]["data"]["item"]["user_id"] == "unlucky"


def test_webhooks_cannot_reach_the_servers_own_network_and_bad_input_is_refused(
    client: FlaskClient, auth: dict[str, str], services: Services, app: CreatedApp
) -> None:
    for url in (
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata: link-local
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ):
        with pytest.raises(InvalidValue, match="loopback, link-local or private"):
            subscribe(
                Subscribe(app.app_id, url, ["user.created"], None, allow_private=False),
                services.store,
                services.clock,
            )
    head = services.store.head()
    for given, field in (
        ({"url": "ftp://example.org/", "topics": ["user.created"]}, "url"),
        ({"url": "http://user:pw@example.org/", "topics": ["user.created"]}, "url"),
        ({"url": "https://example.org/", "topics": ["user.exploded"]}, "topics"),
        ({"url": "https://example.org/", "topics": []}, "topics"),
        (
            {"url": "https://example.org/", "topics": ["user.created"], "service_type": "x"},
            "service_type",
        ),
    ):
        refused = post(client, "/subscriptions", auth, given)
        assert refused.status_code == 400, (given, refused.get_json())
        assert refused.get_json()["errors"][0]["field"] == field
    assert services.store.head() == head
    assert client.get("/subscriptions/nope", headers=auth).status_code == 404
    assert client.get("/subscriptions/nope/deliveries", headers=auth).status_code == 404
