"""Data for tests/e2e/test_openapi.py's fuzzing to find: each area's seed makes a little
through the API and answers the real values of its path parameters ({name: value})."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from commands.apps import AddAdmin, add_admin


def users(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    made = client.post("/users", json={"user_id": "seeded", "email": "s@example.com"}, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"public_id": made.get_json()["id"]}


def companies(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    made = client.post("/companies", json={"company_id": "c1", "name": "Initech"}, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"public_id": made.get_json()["id"]}


def _admin_id(client: FlaskClient, auth: dict[str, str]) -> str:
    """The app's first teammate, added if it has none (the REST API adds none)."""
    listed = client.get("/admins", headers=auth).get_json()["admins"]
    if listed:
        return str(listed[0]["id"])
    services = client.application.extensions["parley"]
    app_id = base64.b64decode(auth["Authorization"].split()[1]).decode().partition(":")[0]
    added = add_admin(AddAdmin(app_id, "ann@example.com", "Ann"), services.store, services.clock)
    return str(added["id"])


def conversations(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A user's conversation with a teammate's reply, a note and an assignment in it."""
    admin_id = _admin_id(client, auth)
    wrote = {"from": {"type": "user", "user_id": "u0"}, "body": "Hello?"}
    made = client.post("/messages", json=wrote, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    conversation_id = made.get_json()["id"]
    for part in (
        {"message_type": "comment", "body": "Hi!"},
        {"message_type": "note", "body": "a note"},
        {"message_type": "assignment", "assignee_id": admin_id},
    ):
        answer = client.post(
            f"/conversations/{conversation_id}/reply",
            json={"type": "admin", "admin_id": admin_id, **part},
            headers=auth,
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
    # Generated replies and reads come from the teammate.
    return {"conversation_id": conversation_id, "body.type": "admin", "body.admin_id": admin_id}


def widget(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A conversation u0 started from the message box (the fuzz names u0 and the app)."""
    app_id = base64.b64decode(auth["Authorization"].split()[1]).decode().partition(":")[0]
    wrote = {"app_id": app_id, "user_id": "u0", "body": "Where is my invoice?"}
    made = client.post("/widget/conversations", json=wrote)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"conversation_id": made.get_json()["id"]}


def admins(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    return {"admin_id": _admin_id(client, auth)}


def email(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """An email from a user, into the app's incoming address (no path parameters)."""
    app_id = base64.b64decode(auth["Authorization"].split()[1]).decode().partition(":")[0]
    raw = (
        f"From: Jo <jo@example.org>\r\nTo: {app_id}@parley.localhost\r\n"
        "Subject: Hello\r\nMessage-ID: <seed@example.org>\r\n\r\nIs anyone there?\r\n"
    ).encode()
    sent = client.post(
        "/email/inbound", data=raw, headers={**auth, "Content-Type": "message/rfc822"}
    )
    assert sent.status_code == 200, sent.get_data(as_text=True)
    return {}


def tags(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A tag on a user and a company."""
    tagging = {"name": "Seeded", "users": [{"user_id": "u0"}], "companies": [{"company_id": "t1"}]}
    client.post("/companies", json={"company_id": "t1", "name": "Tagged Co"}, headers=auth)
    made = client.post("/tags", json=tagging, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"tag_id": made.get_json()["id"]}


def events(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """Two events of u0's, one with a link and a price (no path parameters)."""
    for n, metadata in enumerate(
        ({"plan": "pro"}, {"order": {"url": "https://x.io/1", "value": "1"},
                           "price": {"amount": 100, "currency": "eur"}})
    ):  # fmt: skip
        made = client.post(
            "/events",
            json={"event_name": "seeded", "created_at": 1767225600 + n, "user_id": "u0",
                  "metadata": metadata},
            headers=auth,
        )  # fmt: skip
        assert made.status_code == 202, made.get_data(as_text=True)
    # GET /events lists u0's; generated POST bodies name u0 too.
    return {"type": "user", "user_id": "u0", "body.user_id": "u0", "body.email": None}


def segments(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    segment = {"name": "Seeded", "filter": {"attribute": "email", "operator": "known"}}
    made = client.post("/segments", json=segment, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"segment_id": made.get_json()["id"]}


def counts(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """Something to count per teammate (no path parameters)."""
    _admin_id(client, auth)
    return {}


def notes(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A teammate's note on u0."""
    note = {"body": "<p>Seeded</p>", "admin_id": _admin_id(client, auth), "user": {"user_id": "u0"}}
    made = client.post("/notes", json=note, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    # GET /notes lists u0's; generated POST bodies name u0 and the teammate.
    return {
        "note_id": made.get_json()["id"],
        "user_id": "u0",
        "body.user": {"user_id": "u0"},
        "body.admin_id": note["admin_id"],
    }


def messages(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A teammate's email to u0 (its delivery listed; stopping it is refused: sent)."""
    sent = {
        "message_type": "email",
        "subject": "Seeded",
        "body": 'Hi {{ first_name | fallback: "there" }}',
        "from": {"type": "admin", "id": _admin_id(client, auth)},
        "to": {"type": "user", "user_id": "u0"},
    }
    made = client.post("/messages", json=sent, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"message_id": made.get_json()["id"]}


def auto_messages(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """An in-app auto message for everyone (edited and stopped by the fuzzing)."""
    auto = {
        "message_type": "conversation",
        "body": "Seeded",
        "from": {"type": "admin", "id": _admin_id(client, auth)},
        "filter": {"all": []},
    }
    made = client.post("/auto_messages", json=auto, headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    return {"message_id": made.get_json()["id"]}


def bulk(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A bulk job of users (no path parameters)."""
    items = [{"method": "post", "data": {"user_id": "bulk1", "email": "bulk1@example.com"}}]
    made = client.post("/bulk/users", json={"items": items}, headers=auth)
    assert made.status_code == 202, made.get_data(as_text=True)
    return {}


def jobs(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A bulk job with a refused item, so its error list has one."""
    items = [
        {"method": "post", "data": {"event_name": "seeded", "user_id": "u0"}},
        {"method": "post", "data": {"event_name": "seeded", "user_id": "nobody"}},
    ]
    made = client.post("/bulk/events", json={"items": items}, headers=auth)
    assert made.status_code == 202, made.get_data(as_text=True)
    return {"job_id": made.get_json()["id"]}


def subscriptions(client: FlaskClient, auth: dict[str, str]) -> dict[str, Any]:
    """A subscription to what the fuzzing makes (users, companies, events), so its
    deliveries list fills. The API refuses a loopback URL here (no WEBHOOK_ALLOW_PRIVATE) and
    a public one would be sent to: made by the command, to a closed local port."""
    from commands.handling import handle
    from commands.webhooks import Subscribe, subscribe

    services = client.application.extensions["parley"]
    app_id = base64.b64decode(auth["Authorization"].split()[1]).decode().partition(":")[0]
    topics = ["user.created", "company.created", "event.created"]
    cmd = Subscribe(app_id, "http://127.0.0.1:9/hook", topics, "secret", True)
    made = handle(subscribe, cmd, services.store, services.clock)
    return {"subscription_id": made.subscription["id"]}


SEEDS: dict[str, Callable[[FlaskClient, dict[str, str]], dict[str, Any]]] = {
    "users": users,
    "companies": companies,
    "conversations": conversations,
    "admins": admins,
    "widget": widget,
    "email": email,
    "tags": tags,
    "events": events,
    "segments": segments,
    "counts": counts,
    "notes": notes,
    "messages": messages,
    "auto_messages": auto_messages,
    "bulk": bulk,
    "jobs": jobs,
    "subscriptions": subscriptions,
}
