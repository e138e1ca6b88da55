"""Manual in-app messages (seed: "Manual Messages"): a teammate sends a popup to one user or to
every user a filter matches now; each sees it on their next visit, once, with their own values."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from domain.identity import user_id_key
from domain.user import User
from tests.helpers import post
from tests.test_auto_messages import boot
from web.bootstrap import Services
from workers.jobs import EMAIL_QUEUE

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


def test_a_user_sees_a_manual_message_on_their_next_visit_once(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store)
    boot(client, app.app_id, user_id="j", name="John Smith")
    sent = post(client, "/messages", auth, in_app({"type": "user", "user_id": "j"}))
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["message_type"] == "inapp" and sent.get_json()["template"] is None
    message_id = sent.get_json()["id"]
    boot(client, app.app_id, user_id="someone-else")
    (shown,) = boot(client, app.app_id, user_id="j")
    assert shown["id"] == message_id and shown["message_type"] == "conversation"
    assert shown["body"] == "<p>Hey John, we moved the <strong>billing</strong> page.</p>"
    assert boot(client, app.app_id, user_id="j") == []
    user: User = services.store.repository.get(user_id_key(app.app_id, "j"))
    assert user.last_message_sent_at is not None  # counts toward the relationship score
    assert client.post(
        "/widget/views", json={"app_id": app.app_id, "user_id": "j", "message_id": message_id}
    ).status_code in (200, 202, 204)
    services.runner.catch_up()
    assert stats(client, auth, message_id) == {
        **{"sent": 0, "delivered": 1, "viewed": 1},
        **{"opened": 0, "clicked": 0, "unsubscribed": 0},
    }


def test_a_bulk_message_reaches_those_who_match_now_not_later(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store)
    boot(client, app.app_id, user_id="a", plan="pro")
    boot(client, app.app_id, user_id="b", plan="free")
    services.runner.catch_up()
    sent = post(client, "/messages", auth, in_app({"type": "users", "filter": PRO}))
    assert sent.status_code == 200, sent.get_json()
    jobs = client.application.extensions["parley_jobs"]
    jobs.broker.join(EMAIL_QUEUE, timeout=20_000)
    boot(client, app.app_id, user_id="c", plan="pro")  # matches only after the send
    services.runner.catch_up()
    assert [m["id"] for m in boot(client, app.app_id, user_id="a")] == [sent.get_json()["id"]]
    assert boot(client, app.app_id, user_id="b") == []
    assert boot(client, app.app_id, user_id="c") == []


def test_a_message_stopped_before_the_visit_is_withdrawn(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store)
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
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store)
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
