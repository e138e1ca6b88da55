"""A message that would show nothing: refused when written; and one that shows a particular
user nothing (an empty variable) never stops that user's pings from being recorded."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from domain.identity import user_id_key
from domain.user import User
from tests.e2e.test_auto_messages import PRO, auto, boot
from tests.e2e.test_in_app_messages import in_app, stats
from tests.helpers import post
from web.bootstrap import Services

NOTHING_LEFT = ["<svg><g/></svg>", "<input type=checkbox checked>"]


def refused_for_body(answer: Any) -> bool:
    error = answer.get_json()["errors"][0]
    return (
        answer.status_code == 400
        and error["field"] == "body"
        and "nothing is left after sanitising" in error["message"]
    )


@pytest.mark.parametrize("body", NOTHING_LEFT)
def test_a_body_with_nothing_left_after_sanitising_is_refused_everywhere(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services, body: str
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="j", plan="pro")
    services.runner.catch_up()
    manual = in_app({"type": "user", "user_id": "j"}, message_type="notification", markup="html")
    automatic = {**manual, "filter": PRO, "message_type": "announcement"}
    del automatic["to"]
    live = post(client, "/auto_messages", auth, automatic)
    assert live.status_code == 200, live.get_json()
    head = services.store.head()
    assert refused_for_body(post(client, "/messages", auth, {**manual, "body": body}))
    assert refused_for_body(post(client, "/messages/preview", auth, {**manual, "body": body}))
    assert refused_for_body(post(client, "/auto_messages", auth, {**automatic, "body": body}))
    edit = {"body": body, "markup": "html"}
    message_id = live.get_json()["id"]
    assert refused_for_body(client.put(f"/auto_messages/{message_id}", json=edit, headers=auth))
    assert services.store.head() == head
    assert client.get(f"/messages/{message_id}", headers=auth).get_json()["version"] == 1
    # An edit that leaves out the markup keeps the message's own.
    kept = {"body": "<p>Hello <b>again</b></p>"}
    edited = client.put(f"/auto_messages/{message_id}", json=kept, headers=auth).get_json()
    assert edited["markup"] == "html" and edited["version"] == 2


def test_a_message_that_shows_a_user_nothing_is_skipped_and_the_ping_recorded(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    # Only a variable: a user without a first name would see an empty popup.
    message = auto(services, app.app_id, body="{{ first_name }}", markup="html")
    assert boot(client, app.app_id, user_id="nameless", plan="pro") == []
    assert boot(client, app.app_id, user_id="nameless", plan="pro") == []  # still seen
    (shown,) = boot(client, app.app_id, user_id="ann", name="Ann Lee", plan="pro")
    assert shown["id"] == message.message_id and shown["body"] == "Ann"
    boot(client, app.app_id, user_id="j")
    manual = in_app({"type": "user", "user_id": "j"}, body="{{ first_name }}", markup="html")
    preview = post(client, "/messages/preview", auth, manual).get_json()
    assert preview["body"] == "" and preview["empty"] is True  # the teammate is told
    sent = post(client, "/messages", auth, manual)
    assert sent.status_code == 200, sent.get_json()
    assert boot(client, app.app_id, user_id="j") == []
    services.runner.catch_up()
    nameless: User = services.store.repository.get(user_id_key(app.app_id, "nameless"))
    assert nameless.impressions == 2 and nameless.last_seen_at is not None
    j: User = services.store.repository.get(user_id_key(app.app_id, "j"))
    assert j.messages_waiting == [] and j.impressions == 2
    assert stats(client, auth, message.message_id)["not_shown"] == 1  # counted once
    assert stats(client, auth, message.message_id)["delivered"] == 1
    assert stats(client, auth, sent.get_json()["id"])["not_shown"] == 1
