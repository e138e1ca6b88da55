"""Emails handed to a real SMTP server (aiosmtpd, started here): once per message and user,
retried when refused, never twice when a sender died mid-send."""

from __future__ import annotations

import email
from email.message import EmailMessage
from typing import Any

import pytest

from commands.apps import CreatedApp
from commands.delivery import DeliveryDeferred, deliver_email, email_composer
from commands.email import Mailing, Sender
from commands.mail import Outbox, Smtp
from domain.delivery import DEFERRED, SENT, UNCERTAIN, Delivery
from domain.messages import Message
from domain.user import User
from queries.messages import stats_of
from tests.helpers import free_port, ping
from tests.smtp import Inbox
from web.bootstrap import Services

ANN = Sender("Ann Admin", "ann@acme.io")


def news(services: Services, app_id: str, recipients: list[str] | None) -> Message:
    message = Message.compose(
        app_id=app_id,
        kind="manual",
        message_type="email",
        admin_id="ad",
        subject='News for {{ first_name | fallback:"you" }}',
        body='We shipped **PDF export**, {{ first_name | fallback:"friend" }}.',
        markup="markdown",
        style="official",
        custom_keys=set(),
        at=services.clock.now(),
        audience=None if recipients else {"all": []},
        recipients=recipients,
    )
    services.store.save_all(message)
    return message


def send(services: Services, message: Message, user_key: str, port: int, bulk: bool) -> str:
    mailing = Mailing("https://parley.example", "s3cret", "parley.localhost")
    composer = email_composer(services.store, mailing, lambda _m: ANN)
    return deliver_email(
        message.id.hex,
        user_key,
        bulk=bulk,
        store=services.store,
        clock=services.clock,
        transport=Smtp(f"smtp://127.0.0.1:{port}", timeout=5),
        compose=composer,
    )


def test_an_email_arrives_once_with_the_users_values(
    services: Services, app: CreatedApp, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    user = ping(
        services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"}
    ).user
    message = news(services, app.app_id, None)
    assert send(services, message, user.id.hex, port, bulk=True) == SENT
    assert send(services, message, user.id.hex, port, bulk=True) == SENT  # a redelivery
    (arrived,) = inbox.received
    services.runner.catch_up()
    with services.engine.connect() as conn:
        assert stats_of(conn, [message.id.hex])[message.id.hex]["sent"] == 1
    john = services.store.get_as(User, user.id)
    assert john is not None and john.last_message_sent_at is not None  # relationship: 50%
    assert arrived["Subject"] == "News for John"
    assert arrived["To"] == "john@x.io"
    assert arrived["List-Unsubscribe"].startswith("<https://parley.example/unsubscribe/")
    text = next(p for p in arrived.walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "We shipped PDF export, John." in payload.decode()


def test_unsubscribed_users_get_no_bulk_email_but_one_to_one_mail(
    services: Services, app: CreatedApp, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    settings = {"user_id": "u", "email": "u@x.io", "unsubscribed_from_emails": True}
    user = ping(services, app.app_id, settings).user
    assert (
        send(services, news(services, app.app_id, None), user.id.hex, port, bulk=True)
        == "unsubscribed"
    )
    direct = news(services, app.app_id, [user.id.hex])
    assert send(services, direct, user.id.hex, port, bulk=False) == SENT
    (arrived,) = inbox.received
    assert arrived["List-Unsubscribe"] is None


def test_a_refusing_or_absent_server_is_retried_later(
    services: Services, app: CreatedApp, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    user = ping(services, app.app_id, {"user_id": "r", "email": "r@x.io"}).user
    message = news(services, app.app_id, None)
    inbox.refuse = True
    with pytest.raises(DeliveryDeferred, match="451"):
        send(services, message, user.id.hex, port, bulk=True)
    with pytest.raises(DeliveryDeferred, match="cannot reach"):
        send(services, message, user.id.hex, free_port(), bulk=True)
    key = Delivery.create_id(message.id.hex, user.id.hex, "email")
    delivery = services.store.get_as(Delivery, key)
    assert delivery is not None and delivery.state == DEFERRED and delivery.attempts == 2
    inbox.refuse = False
    assert send(services, message, user.id.hex, port, bulk=True) == SENT
    assert len(inbox.received) == 1


def test_a_send_interrupted_without_an_answer_is_never_repeated(
    services: Services, app: CreatedApp, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    user = ping(services, app.app_id, {"user_id": "d", "email": "d@x.io"}).user
    message = news(services, app.app_id, None)
    # A worker claimed it and started sending, then died before the server answered.
    died = Delivery(
        message_id=message.id.hex,
        user_key=user.id.hex,
        channel="email",
        content_version=0,
        at=services.clock.now(),
    )
    died.sending(services.clock.now())
    services.store.save_all(died)
    assert send(services, message, user.id.hex, port, bulk=True) == UNCERTAIN
    assert send(services, message, user.id.hex, port, bulk=True) == UNCERTAIN
    assert inbox.received == []


def test_without_smtp_url_emails_are_files_in_the_outbox(tmp_path: Any) -> None:
    message = EmailMessage()
    message["Message-ID"] = "<abc@acme.io>"
    message["Subject"] = "Hi"
    message.set_content("hello")
    Outbox(str(tmp_path / "outbox")).send(message)
    (written,) = (tmp_path / "outbox").iterdir()
    assert email.message_from_bytes(written.read_bytes())["Subject"] == "Hi"
