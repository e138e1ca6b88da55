"""What follows an event is done by the reactions, which follow the log: a follower that dies
mid-batch leaves its work to the next one, which does each piece once; a replay of the whole
log sends nothing twice; `/health` shows where the followers stand."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from commands import notifications
from commands.apps import AddAdmin, CreatedApp, add_admin
from commands.conversations import (
    SetDefaultAssignee,
    SetNotifications,
    set_default_assignee,
    set_notifications,
)
from commands.mail import Outbox
from projections.tables import positions
from tests.e2e.test_conversations import write_in
from tests.helpers import ping, post, settle
from tests.integration.test_delivery import news
from web.bootstrap import Services
from workers.jobs import Jobs
from workers.reactions import follow, followers


class Died(Exception):
    """The follower's process, gone in the middle of a batch."""


def sent_to(services: Services) -> list[str]:
    folder = Path(services.config.outbox_dir)
    found = sorted(folder.glob("*.eml")) if folder.exists() else []
    return sorted(str(email.message_from_bytes(f.read_bytes())["To"]) for f in found)


def stop_following(client: FlaskClient) -> list[Any]:
    running: list[Any] = client.application.extensions["parley_followers"]
    for follower in running:
        follower.stop()
    return running


def test_a_follower_that_dies_mid_batch_leaves_each_follow_up_to_be_done_once(
    client: FlaskClient,
    auth: dict[str, str],
    app: CreatedApp,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    set_default_assignee(SetDefaultAssignee(app.app_id, "1"), services.store, services.clock)
    for who in ("a", "b", "c"):
        ping(services, app.app_id, {"user_id": who, "email": f"{who}@x.io"})
    running = stop_following(client)
    for who in ("a", "b", "c"):
        write_in(client, auth, who, f"Question from {who}")  # committed; nothing followed yet
    jobs: Jobs = client.application.extensions["parley_jobs"]
    queued = jobs.notify
    calls: list[tuple[str, ...]] = []

    def dies_at_the_second(*args: str) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise Died()
        queued(*args)

    monkeypatch.setattr(jobs, "notify", dies_at_the_second)
    doomed = followers(services, jobs)[0]  # the quick one: notifications
    with pytest.raises(Died):
        doomed.catch_up()
    monkeypatch.setattr(jobs, "notify", queued)
    running[:] = follow(services, jobs)  # the next process, from the recorded position
    settle(client.application)
    assert sent_to(services) == ["ann@acme.io"] * 3  # one email per question, none twice
    assert len(calls) == 2  # the first was queued again after the death: done once anyway


def test_a_replay_of_the_log_from_the_start_sends_nothing_twice(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    set_default_assignee(SetDefaultAssignee(app.app_id, "1"), services.store, services.clock)
    for who in ("a", "b"):
        ping(services, app.app_id, {"user_id": who, "email": f"{who}@x.io"})
    services.runner.catch_up()
    conversation_id = write_in(client, auth, "a", "Where is my invoice?")
    reply = {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "Resent."}
    assert post(client, f"/conversations/{conversation_id}/reply", auth, reply).status_code == 200
    news(services, app.app_id, None)  # a bulk email to both
    settle(client.application)
    before = sent_to(services)
    assert before == ["a@x.io", "ann@acme.io", "b@x.io"]
    ping(services, app.app_id, {"user_id": "late", "email": "late@x.io"})  # after the email
    services.runner.catch_up()
    head = services.store.head()
    running = stop_following(client)
    with services.runner.engine.begin() as conn:
        conn.execute(
            update(positions)
            .where(positions.c.name.in_(["reactions", "fan_outs"]))
            .values(position=0)
        )
    running[:] = follow(services, client.application.extensions["parley_jobs"])
    settle(client.application)
    assert sent_to(services) == before
    health = client.get("/health").get_json()
    for name in ("reactions", "fan_outs"):
        assert health["reactions"][name]["position"] >= head
        assert (
            health["reactions"][name]["lag"]
            == health["event_store"]["head"] - (health["reactions"][name]["position"])
        )


def test_a_teammate_picked_from_a_fresher_copy_of_the_app_is_emailed(
    client: FlaskClient,
    auth: dict[str, str],
    app: CreatedApp,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The app copy `notify_admins` starts from may be older than the one that picks whom to
    email (its 2 s cache expiring in between): whoever is picked and recorded gets the email,
    and the job does not fail on a teammate its older copy does not know."""
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "k", "email": "k@x.io"})
    stop_following(client)
    conversation_id = write_in(client, auth, "k", "Hello?")
    older = notifications.recent_app(services.store, app.app_id)  # Ann only
    for admin in ("1", "2"):
        if admin == "2":
            bob = AddAdmin(app.app_id, "bob@acme.io", "Bob Admin")
            add_admin(bob, services.store, services.clock)
        every = SetNotifications(app.app_id, admin, "all")
        set_notifications(every, services.store, services.clock)
    reads = iter([older])  # the first read is the older copy, the next ones fresh
    fresh = notifications.recent_app
    monkeypatch.setattr(
        notifications, "recent_app", lambda store, app_id: next(reads, None) or fresh(store, app_id)
    )
    sent = notifications.notify_admins(
        services.store,
        services.clock,
        Outbox(str(tmp_path / "out")),
        app.app_id,
        conversation_id,
        notifications.START,
        services.config.mailing,
    )
    written = (tmp_path / "out").glob("*.eml")
    received = sorted(str(email.message_from_bytes(f.read_bytes())["To"]) for f in written)
    assert (sent, received) == (2, ["ann@acme.io", "bob@acme.io"])
