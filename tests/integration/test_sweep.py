"""The periodic sweep: auto emails to users as they come to match (also as time passes), and
acknowledged work recovered after its process died, each email still sent at most once."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from commands.clock import ManualClock
from domain.delivery import SENDING, UNCERTAIN, Delivery, delivery_key
from domain.messages import Message
from tests.helpers import ping, post, settle
from tests.integration.test_delivery import news
from web.bootstrap import Services
from workers.jobs import Jobs
from workers.reactions import follow
from workers.sweep import Sweeper

INACTIVE = {"attribute": "last_seen_at", "operator": "more_than_days_ago", "value": 30}


def outbox(services: Services) -> list[email.message.Message]:
    folder = Path(services.config.outbox_dir)
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes()) for f in files]


def recipients(services: Services) -> list[str]:
    return sorted(str(m["To"]) for m in outbox(services))


def test_an_auto_email_reaches_users_as_time_makes_them_match(
    client: FlaskClient,
    auth: dict[str, str],
    app: CreatedApp,
    services: Services,
    clock: ManualClock,
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "a", "email": "a@x.io", "name": "Al"})
    ping(
        services, app.app_id, {"user_id": "b", "email": "b@x.io", "unsubscribed_from_emails": True}
    )
    ping(services, app.app_id, {"user_id": "d"})  # no address
    clock.advance(days=31)
    ping(services, app.app_id, {"user_id": "c", "email": "c@x.io"})  # seen today
    services.runner.catch_up()
    created = post(
        client,
        "/auto_messages",
        auth,
        {
            "message_type": "email",
            "subject": "We miss you",
            "body": 'Come back, {{ first_name | fallback:"friend" }}!',
            "template": "personal",
            "from": {"type": "admin", "id": "1"},
            "filter": INACTIVE,
        },
    )
    assert created.status_code == 200, created.get_json()
    jobs: Jobs = client.application.extensions["parley_jobs"]
    settle(client.application)
    assert recipients(services) == ["a@x.io"]  # at once, to those who match now
    (first,) = outbox(services)
    assert first["List-Unsubscribe"] is not None
    sweeper = Sweeper(jobs)
    assert sweeper.sweep()["auto_emails"] == 0  # nothing due: nobody is sent it twice
    clock.advance(days=31)  # c has not been back since
    assert sweeper.sweep()["auto_emails"] == 1
    settle(client.application)
    assert recipients(services) == ["a@x.io", "c@x.io"]
    assert sweeper.sweep() == {"stalled": 0, "auto_emails": 0, "webhooks": 0}
    message_id = created.get_json()["id"]
    assert post(client, f"/auto_messages/{message_id}/stop", auth, {}).status_code == 200
    ping(services, app.app_id, {"user_id": "e", "email": "e@x.io"})
    clock.advance(days=31)
    settle(client.application)
    assert sweeper.sweep()["auto_emails"] == 0  # stopped: e never gets it


def test_a_manual_email_saved_just_before_its_process_died_is_sent_when_reactions_resume(
    client: FlaskClient, app: CreatedApp, services: Services, clock: ManualClock
) -> None:
    for who in ("a", "b"):
        ping(services, app.app_id, {"user_id": who, "email": f"{who}@x.io"})
    services.runner.catch_up()
    jobs: Jobs = client.application.extensions["parley_jobs"]
    running = client.application.extensions["parley_followers"]
    for follower in running:
        follower.stop()  # the process following the log died
    # Accepted and saved, but nothing followed: no fan-out, no claim, no email.
    bulk = news(services, app.app_id, None)
    clock.advance(seconds=61)
    # Not the sweep's job:
    assert Sweeper(jobs).sweep() == {"stalled": 0, "auto_emails": 0, "webhooks": 0}
    assert outbox(services) == []
    running[:] = follow(services, jobs)  # a new process picks up where it stopped
    settle(client.application)
    assert recipients(services) == ["a@x.io", "b@x.io"]
    assert services.store.get_as(Message, bulk.id).dispatched_at is not None  # type: ignore[union-attr]
    clock.advance(seconds=600)
    assert Sweeper(jobs).sweep() == {"stalled": 0, "auto_emails": 0, "webhooks": 0}
    settle(client.application)
    assert len(outbox(services)) == 2


def claim(services: Services, message: Message, user_key: str, sending: bool) -> None:
    """What a worker that died left: a claimed delivery, perhaps already mid-send."""
    found = Delivery(
        message_id=message.id.hex,
        user_key=user_key,
        channel="email",
        content_version=0,
        at=services.clock.now(),
    )
    if sending:
        found.sending(services.clock.now())
    services.store.save_all(found)


def test_deliveries_left_by_a_dead_worker_finish_once_or_are_marked_uncertain(
    client: FlaskClient, app: CreatedApp, services: Services, clock: ManualClock
) -> None:
    keys = {
        who: ping(services, app.app_id, {"user_id": who, "email": f"{who}@x.io"}).user.id.hex
        for who in ("claimed", "mid-send")
    }
    message = news(services, app.app_id, None)
    jobs: Jobs = client.application.extensions["parley_jobs"]
    clock.advance(seconds=1)
    message.dispatch(2, services.clock.now())
    services.store.save_all(message)
    claim(services, message, keys["claimed"], sending=False)
    claim(services, message, keys["mid-send"], sending=True)
    services.runner.catch_up()
    sweeper = Sweeper(jobs)
    assert sweeper.sweep()["stalled"] == 0  # a live worker may still be on them
    clock.advance(minutes=6)
    assert sweeper.sweep()["stalled"] == 2
    settle(client.application)
    assert recipients(services) == ["claimed@x.io"]  # the other may have gone: never twice
    gone = services.store.get_as(Delivery, delivery_key(message.id.hex, keys["mid-send"], "email"))
    assert gone is not None and gone.state == UNCERTAIN
    clock.advance(minutes=6)
    assert sweeper.sweep()["stalled"] == 0


def test_deliveries_show_their_state_to_teammates(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    user = ping(services, app.app_id, {"user_id": "m", "email": "m@x.io"}).user
    message = news(services, app.app_id, None)
    claim(services, message, user.id.hex, sending=True)
    services.runner.catch_up()
    found: Any = client.get(f"/messages/{message.id.hex}/deliveries", headers=auth).get_json()
    (row,) = found["deliveries"]
    assert row["user"]["id"] == user.id.hex and row["state"] == SENDING and row["attempts"] == 1


def test_an_auto_email_reaches_a_user_at_the_next_sweep_after_they_change(
    client: FlaskClient,
    auth: dict[str, str],
    app: CreatedApp,
    services: Services,
    clock: ManualClock,
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    for who, plan in (("a", "pro"), ("b", "free")):
        ping(services, app.app_id, {"user_id": who, "email": f"{who}@x.io", "plan": plan})
    services.runner.catch_up()
    pro = {"attribute": "custom.plan", "operator": "is", "value": "pro"}
    given = {
        "message_type": "email",
        "subject": "Welcome to Pro",
        "body": "Thanks for upgrading.",
        "from": {"type": "admin", "id": "1"},
        "filter": pro,
    }
    assert post(client, "/auto_messages", auth, given).status_code == 200
    jobs: Jobs = client.application.extensions["parley_jobs"]
    settle(client.application)
    sweeper = Sweeper(jobs)
    assert sweeper.sweep()["auto_emails"] == 0  # in full: a has it, b does not match
    clock.advance(minutes=1)
    ping(services, app.app_id, {"user_id": "b", "plan": "pro"})  # b upgrades
    services.runner.catch_up()
    assert sweeper.sweep()["auto_emails"] == 1  # among the users who changed since
    settle(client.application)
    assert recipients(services) == ["a@x.io", "b@x.io"]
    clock.advance(minutes=1)
    assert sweeper.sweep()["auto_emails"] == 0
