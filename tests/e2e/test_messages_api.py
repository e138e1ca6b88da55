"""`POST /messages`: a teammate's email to one user, sent by a worker (in process without
Redis; through Redis to a real SMTP server with it)."""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

from dramatiq.brokers.redis import RedisBroker
from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from domain.messages import Message
from tests.helpers import basic, ping, post, settle
from tests.smtp import Inbox
from web.app import create_app as create_web_app
from web.bootstrap import Services
from workers.jobs import Jobs

REDIS = "redis://127.0.0.1:6379/0"


def email_to(user_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "message_type": "email",
        "subject": "Welcome aboard",
        "body": 'Hi {{ first_name | fallback:"there" }}, **thanks** for joining.',
        "template": "personal",
        "from": {"type": "admin", "id": "1"},
        "to": {"type": "user", "user_id": user_id},
        **extra,
    }


def wait_for_files(folder: Path, count: int, seconds: float = 10.0) -> list[Path]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.eml")) if folder.exists() else []
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{count} emails did not reach {folder} in {seconds} s")


def test_without_redis_the_web_process_sends_it_to_the_outbox(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"})
    sent = post(client, "/messages", auth, email_to("j"))
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["type"] == "admin_message"
    (written,) = wait_for_files(Path(services.config.outbox_dir), 1)
    arrived = email.message_from_bytes(written.read_bytes())
    assert arrived["To"] == "john@x.io" and arrived["Subject"] == "Welcome aboard"
    assert arrived["From"] == "Ann Admin <ann@acme.io>"


def test_messages_that_cannot_be_sent_are_refused_and_record_nothing(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io"})
    head = services.store.head()
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        (email_to("j", body="Hi {{ shoe_size }}"), 400, "body"),
        (email_to("j", **{"from": {"type": "admin", "id": "99"}}), 400, "from"),
        (email_to("j", message_type="popup"), 400, "message_type"),
        (email_to("j", template="fancy"), 400, "template"),
        (email_to("nobody"), 404, None),
    ]
    for given, status, field in cases:
        response = post(client, "/messages", auth, given)
        assert response.status_code == status, (given, response.get_json())
        if field is not None:
            assert response.get_json()["errors"][0]["field"] == field
    assert services.store.head() == head


def test_with_redis_a_worker_sends_it_over_smtp(
    pg_services: Services, smtp: tuple[Inbox, int]
) -> None:
    from commands.apps import CreateApp, create_app

    inbox, port = smtp
    services = pg_services
    services.config = replace(services.config, redis_url=REDIS, smtp_url=f"smtp://127.0.0.1:{port}")
    created = create_app(CreateApp("Redis"), services.store, services.clock)
    add_admin(AddAdmin(created.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, created.app_id, {"user_id": "j", "email": "john@x.io", "name": "John"})
    broker = RedisBroker(url=REDIS, namespace=f"parley-test-{uuid.uuid4().hex[:8]}")
    jobs = Jobs(services, broker)
    worker = jobs.start_worker(2)
    web = create_web_app(services=services, jobs=jobs, follow=True)  # the reactions queue it
    try:
        response = post(web.test_client(), "/messages", basic(created), email_to("j"))
        assert response.status_code == 200, response.get_json()
        settle(web)
    finally:
        for follower in web.extensions["parley_followers"]:
            follower.stop()
        worker.stop()
        broker.flush_all()
        broker.close()
    (arrived,) = inbox.received
    assert arrived["To"] == "john@x.io"
    text = next(p for p in arrived.walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes) and "Hi John, thanks for joining." in payload.decode()


def test_a_bulk_email_goes_once_to_each_matching_subscribed_user(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    for user_id, plan, unsubscribed in (
        ("a", "pro", False),
        ("b", "pro", True),
        ("c", "free", False),
    ):
        settings = {"user_id": user_id, "email": f"{user_id}@x.io", "plan": plan}
        ping(services, app.app_id, {**settings, "unsubscribed_from_emails": unsubscribed})
    services.runner.catch_up()
    pro = {"attribute": "custom.plan", "operator": "is", "value": "pro"}
    typo = email_to("a", body="Your plan: {{ plann }}")
    typo["to"] = {"type": "users", "filter": pro}
    refused = post(client, "/messages", auth, typo)
    assert refused.status_code == 400 and "plann" in refused.get_json()["errors"][0]["message"]
    bulk = email_to("a", body="Your plan: {{ plan }}")
    bulk["to"] = {"type": "users", "filter": pro}
    assert post(client, "/messages", auth, bulk).status_code == 200
    (written,) = wait_for_files(Path(services.config.outbox_dir), 1)
    time.sleep(0.5)  # nothing else arrives
    assert len(list(Path(services.config.outbox_dir).glob("*.eml"))) == 1
    arrived = email.message_from_bytes(written.read_bytes())
    assert arrived["To"] == "a@x.io"
    assert arrived["List-Unsubscribe"] is not None


def test_a_preview_is_exactly_what_is_sent_and_records_nothing(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    import re

    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"})
    given = email_to("j", body="Hi {{ first_name }}, see [the docs](https://docs.acme.io).")
    head = services.store.head()
    preview = post(client, "/messages/preview", auth, given)
    assert preview.status_code == 200, preview.get_json()
    assert services.store.head() == head  # nothing saved, nothing queued
    refused = post(client, "/messages/preview", auth, {**given, "body": "Hi {{ shoe }}"})
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "body"
    assert post(client, "/messages", auth, given).status_code == 200
    (written,) = wait_for_files(Path(services.config.outbox_dir), 1)
    sent = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    shown = preview.get_json()
    assert shown["subject"] == sent["Subject"] and shown["from"] == sent["From"]
    parts = {p.get_content_type(): p.get_content() for p in sent.walk() if not p.is_multipart()}
    assert shown["text"] == parts["text/plain"] and "Hi John, see the docs" in shown["text"]
    tokens = re.compile(r"/e/[^/\"]+/")  # open and click links name the message sent
    assert tokens.sub("/e/T/", shown["html"]) == tokens.sub("/e/T/", parts["text/html"])
    in_app = {**given, "message_type": "announcement", "subject": None}
    shown_in_app = post(client, "/messages/preview", auth, in_app).get_json()
    assert shown_in_app["body"].startswith('<p>Hi John, see <a href="https://docs.acme.io"')
    bulk = {**given, "to": {"type": "users"}, "body": 'Hi {{ first_name | fallback:"there" }}'}
    assert "Hi there" in post(client, "/messages/preview", auth, bulk).get_json()["text"]


def test_a_message_to_chosen_users_reaches_each_of_them_once(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    for who in ("a", "b", "c"):
        ping(services, app.app_id, {"user_id": who, "email": f"{who}@x.io", "name": who.upper()})
    head = services.store.head()
    for to, status in (
        ([{"type": "user", "user_id": "a"}, {"type": "user", "user_id": "nobody"}], 404),
        ([{"type": "user", "user_id": "a"}, {"type": "admin", "id": "1"}], 400),
        ([], 400),
    ):
        refused = post(client, "/messages", auth, email_to("a", to=to))
        assert refused.status_code == status, refused.get_json()
    assert services.store.head() == head  # nothing recorded
    chosen = [{"type": "user", "user_id": "a"}, {"type": "user", "email": "b@x.io"}]
    sent = post(client, "/messages", auth, email_to("a", to=chosen + chosen[:1]))
    assert sent.status_code == 200, sent.get_json()
    written = wait_for_files(Path(services.config.outbox_dir), 2)
    time.sleep(0.5)  # nothing else arrives
    arrived = [email.message_from_bytes(f.read_bytes()) for f in written]
    assert len(list(Path(services.config.outbox_dir).glob("*.eml"))) == 2
    assert sorted(str(m["To"]) for m in arrived) == ["a@x.io", "b@x.io"]
    assert all(m["List-Unsubscribe"] is None for m in arrived)  # personal, not bulk
    message = services.store.get_as(Message, UUID(hex=sent.get_json()["id"]))
    assert message is not None and message.dispatched_at is not None
