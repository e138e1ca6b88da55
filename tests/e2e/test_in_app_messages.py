"""Manual in-app messages (seed: "Manual Messages"): a teammate sends a popup to one user or to
every user a filter matches now; each sees it on their next visit, with their own values, until
the widget has displayed it once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from domain.identity import user_id_key
from domain.messages import Message
from domain.user import User
from tests.e2e.test_auto_messages import boot
from tests.helpers import post, settle
from web.bootstrap import Services
from workers.fan_out import fan_out

PRO = {"attribute": "custom.plan", "operator": "is", "value": "pro"}


def in_app(to: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "message_type": "inapp",
        "body": 'Hey {{ first_name | fallback:"you" }}, we moved the **billing** page.',
        "from": {"type": "admin", "id": "1"},
        "to": to,
        **extra,
    }


def stats(client: FlaskClient, auth: dict[str, str], message_id: str) -> dict[str, int]:
    found = client.get(f"/messages/{message_id}", headers=auth)
    assert found.status_code == 200, found.get_json()
    return dict(found.get_json()["stats"])


def message_to_john(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> dict[str, Any]:
    """Ann (admin 1) sends John Smith (user_id j) an in-app message; the answer."""
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="j", name="John Smith")
    sent = post(client, "/messages", auth, in_app({"type": "user", "user_id": "j"}))
    assert sent.status_code == 200, sent.get_json()
    return dict(sent.get_json())


def test_a_user_sees_a_manual_message_on_their_next_visit_once(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    sent = message_to_john(client, auth, app, services)
    assert sent["message_type"] == "inapp" and sent["template"] is None
    message_id = sent["id"]
    boot(client, app.app_id, user_id="someone-else")
    (shown,) = boot(client, app.app_id, user_id="j")
    assert shown["id"] == message_id and shown["message_type"] == "conversation"
    assert shown["body"] == "<p>Hey John, we moved the <strong>billing</strong> page.</p>"
    assert shown["from"] == {"type": "admin", "id": "1", "name": "Ann Admin"}
    conversation = client.get(f"/conversations/{shown['conversation_id']}", headers=auth)
    assert conversation.get_json()["conversation_message"]["body"] == shown["body"]
    # Left before the widget displayed it (another popup was showing): offered again, with
    # the same conversation, until the widget reports it displayed; then never again.
    (again,) = boot(client, app.app_id, user_id="j")
    assert (again["id"], again["conversation_id"]) == (message_id, shown["conversation_id"])
    user: User = services.store.repository.get(user_id_key(app.app_id, "j"))
    assert user.last_message_sent_at is not None  # counts toward the relationship score
    assert client.post(
        "/widget/views", json={"app_id": app.app_id, "user_id": "j", "message_id": message_id}
    ).status_code in (200, 202, 204)
    assert boot(client, app.app_id, user_id="j") == []
    services.runner.catch_up()
    assert stats(client, auth, message_id) == {
        **{"sent": 0, "delivered": 1, "viewed": 1},
        **{"opened": 0, "clicked": 0, "unsubscribed": 0, "replied": 0, "not_shown": 0},
    }


def test_a_bulk_message_reaches_those_who_match_now_not_later(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="a", plan="pro")
    boot(client, app.app_id, user_id="b", plan="free")
    services.runner.catch_up()
    sent = post(client, "/messages", auth, in_app({"type": "users", "filter": PRO}))
    assert sent.status_code == 200, sent.get_json()
    settle(client.application)
    boot(client, app.app_id, user_id="c", plan="pro")  # matches only after the send
    services.runner.catch_up()
    assert [m["id"] for m in boot(client, app.app_id, user_id="a")] == [sent.get_json()["id"]]
    assert boot(client, app.app_id, user_id="b") == []
    assert boot(client, app.app_id, user_id="c") == []


def test_a_message_stopped_before_the_visit_is_withdrawn(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="j")
    boot(client, app.app_id, user_id="k")
    sent = [
        post(client, "/messages", auth, in_app({"type": "user", "user_id": who})).get_json()["id"]
        for who in ("j", "k")
    ]
    assert [m["id"] for m in boot(client, app.app_id, user_id="k")] == [sent[1]]
    for message_id in sent:
        stopped = post(client, f"/messages/{message_id}/stop", auth, {})
        assert stopped.status_code == 200 and stopped.get_json()["stopped_at"] is not None
    assert boot(client, app.app_id, user_id="j") == []
    user: User = services.store.repository.get(user_id_key(app.app_id, "j"))
    assert user.messages_waiting == [] and user.auto_messages_shown == []


def test_bad_in_app_messages_are_refused(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="j")
    head = services.store.head()
    for given, field in (
        (in_app({"type": "user", "user_id": "j"}, body="Hi {{ shoe }}"), "body"),
        (in_app({"type": "user", "user_id": "j"}, message_type="popup"), "message_type"),
        (in_app({"type": "users", "filter": {"attribute": "x"}}), "to.filter"),
    ):
        refused = post(client, "/messages", auth, given)
        assert refused.status_code == 400, refused.get_json()
        assert refused.get_json()["errors"][0]["field"].startswith(field), refused.get_json()
    assert services.store.head() == head
    email = in_app({"type": "user", "user_id": "j"}, message_type="email", template="plain")
    refused = post(client, "/messages", auth, email)  # an email needs a subject
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "subject"


def test_every_message_a_user_gets_lands_in_their_inbox_and_replies_count(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    from tests.e2e.test_auto_messages import auto

    message_id = message_to_john(client, auth, app, services)["id"]
    quiet = auto(
        services, app.app_id, message_type="inbox", body="Your invoice is ready.", audience=PRO
    )
    shown = boot(client, app.app_id, user_id="j", plan="pro")
    assert [m["id"] for m in shown] == [message_id]  # the inbox message does not pop up
    services.runner.catch_up()
    inbox = client.get("/conversations?type=user&user_id=j", headers=auth).get_json()
    assert inbox["total_count"] == 2
    assert all(c["read"] is False for c in inbox["conversations"])  # unread by the user
    by_message = {}
    for listed in inbox["conversations"]:
        whole = client.get(f"/conversations/{listed['id']}", headers=auth).get_json()
        by_message[whole["conversation_message"]["id"]] = whole
    assert set(by_message) == {message_id, quiet.message_id}
    opening = by_message[message_id]["conversation_message"]
    assert opening["author"] == {"type": "admin", "id": "1"}
    assert opening["body"] == "<p>Hey John, we moved the <strong>billing</strong> page.</p>"
    conversation_id = by_message[message_id]["id"]
    for text in ("Where is it now?", "Found it"):
        answer = {"type": "user", "user_id": "j", "message_type": "comment", "body": text}
        assert (
            post(client, f"/conversations/{conversation_id}/reply", auth, answer).status_code == 200
        )
    services.runner.catch_up()
    assert stats(client, auth, message_id)["replied"] == 1  # one user, however many replies
    assert stats(client, auth, quiet.message_id)["replied"] == 0


def test_a_manual_inbox_message_is_in_the_inbox_at_once_and_never_pops_up(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="a", plan="pro")
    boot(client, app.app_id, user_id="b", plan="free")
    services.runner.catch_up()
    given = in_app({"type": "users", "filter": PRO}, message_type="inbox")
    sent = post(client, "/messages", auth, given)
    assert sent.status_code == 200, sent.get_json()
    settle(client.application)
    message = services.store.get_as(Message, UUID(hex=sent.get_json()["id"]))
    assert message is not None
    assert fan_out(services, message) == 0  # dispatched: a second fan-out sends nothing
    settle(client.application)
    services.runner.catch_up()
    mine = client.get("/conversations?type=user&user_id=a", headers=auth).get_json()
    assert mine["total_count"] == 1 and mine["conversations"][0]["read"] is False
    theirs = client.get("/conversations?type=user&user_id=b", headers=auth).get_json()
    assert theirs["total_count"] == 0
    assert boot(client, app.app_id, user_id="a") == []  # nothing pops up on the next visit
    assert stats(client, auth, sent.get_json()["id"])["delivered"] == 1
