"""Conversations and the inbox over REST: users writing in, replies, private notes the user
never sees, assignment, closing, read state on both sides, and the inbox views."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from commands.clock import ManualClock
from commands.conversations import SetDefaultAssignee, set_default_assignee
from domain.identity import user_id_key
from domain.user import User
from tests.helpers import ping, post, settle
from web.bootstrap import Services


def admins(services: Services, app_id: str) -> None:
    add_admin(
        AddAdmin(app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock
    )  # id "1"
    add_admin(
        AddAdmin(app_id, "bob@acme.io", "Bob Admin"), services.store, services.clock
    )  # id "2"


def write_in(client: FlaskClient, auth: dict[str, str], user_id: str, text: str) -> str:
    sent = post(
        client, "/messages", auth, {"from": {"type": "user", "user_id": user_id}, "body": text}
    )
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["type"] == "user_message"
    return str(sent.get_json()["id"])


def listed(client: FlaskClient, auth: dict[str, str], **args: Any) -> dict[str, Any]:
    found = client.get("/conversations", query_string=args, headers=auth)
    assert found.status_code == 200, found.get_json()
    return dict(found.get_json())


def reply(client: FlaskClient, auth: dict[str, str], target: str, **given: Any) -> dict[str, Any]:
    found = post(client, f"/conversations/{target}/reply", auth, given)
    assert found.status_code == 200, found.get_json()
    return dict(found.get_json())


def test_a_user_writes_in_and_the_team_answers_with_notes_the_user_never_sees(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    admins(services, app.app_id)
    set_default_assignee(SetDefaultAssignee(app.app_id, "1"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io"})
    conversation_id = write_in(client, auth, "j", "The <b>export</b> button does nothing?")
    services.runner.catch_up()
    (mine,) = listed(client, auth, type="admin", id="1")["conversations"]
    assert mine["id"] == conversation_id and mine["assignee"] == {"type": "admin", "id": "1"}
    assert mine["read"] is False and mine["open"] is True
    assert listed(client, auth, type="admin", unassigned="true")["conversations"] == []
    whole = client.get(f"/conversations/{conversation_id}", headers=auth).get_json()
    assert whole["conversation_message"]["author"]["type"] == "user"
    assert "&lt;b&gt;export&lt;/b&gt;" in whole["conversation_message"]["body"]  # text, not HTML
    reply(
        client,
        auth,
        conversation_id,
        type="admin",
        admin_id="1",
        message_type="note",
        body="Probably the PDF worker again",
    )
    reply(
        client,
        auth,
        conversation_id,
        type="admin",
        admin_id="1",
        message_type="assignment",
        assignee_id="2",
        body="Bob knows the exporter",
    )
    reply(
        client,
        auth,
        conversation_id,
        type="admin",
        admin_id="2",
        message_type="comment",
        body="Fixed, **sorry** about that!",
    )
    services.runner.catch_up()
    assert listed(client, auth, type="admin", id="1")["conversations"] == []
    (bobs,) = listed(client, auth, type="admin", id="2")["conversations"]
    assert bobs["read"] is True  # Bob wrote last: nothing from the user he has not seen
    (unread,) = listed(client, auth, type="user", user_id="j", unread="true")["conversations"]
    assert unread["read"] is False
    # What the user sees: the comment, never the note or the assignment.
    seen = reply(
        client,
        auth,
        conversation_id,
        type="user",
        user_id="j",
        message_type="comment",
        body="Works now, thanks",
    )
    kinds = [p["part_type"] for p in seen["conversation_parts"]["conversation_parts"]]
    assert kinds == ["comment", "comment"] and "assignee" not in seen
    assert "Probably the PDF" not in str(seen) and "Bob knows" not in str(seen)
    team = client.get(f"/conversations/{conversation_id}", headers=auth).get_json()
    parts = team["conversation_parts"]["conversation_parts"]
    assert [p["part_type"] for p in parts] == ["note", "assignment", "comment", "comment"]
    assert parts[2]["body"] == "<p>Fixed, <strong>sorry</strong> about that!</p>"
    assert parts[1]["assigned_to"] == {"type": "admin", "id": "2"}
    services.runner.catch_up()
    assert listed(client, auth, type="user", user_id="j", unread="true")["conversations"] == []
    (bobs,) = listed(client, auth, type="admin", id="2")["conversations"]
    assert bobs["read"] is False  # the user wrote again
    marked = client.put(
        f"/conversations/{conversation_id}",
        json={"read": True, "type": "admin", "admin_id": "2"},
        headers=auth,
    )
    assert marked.status_code == 200, marked.get_json()
    services.runner.catch_up()
    assert listed(client, auth, type="admin", id="2")["conversations"][0]["read"] is True
    user: User = services.store.repository.get(user_id_key(app.app_id, "j"))
    assert user.last_message_received_at is not None and user.last_message_sent_at is not None
    shown = client.get("/users?user_id=j", headers=auth).get_json()  # per user, over REST
    assert shown["last_message_sent_at"] == user.last_message_sent_at
    assert shown["last_message_received_at"] == user.last_message_received_at


def test_closing_reopening_and_the_inbox_pages(
    client: FlaskClient,
    auth: dict[str, str],
    app: CreatedApp,
    services: Services,
    clock: ManualClock,
) -> None:
    admins(services, app.app_id)
    ping(services, app.app_id, {"user_id": "k"})
    started = []
    for n in range(7):
        clock.advance(minutes=1)
        started.append(write_in(client, auth, "k", f"Question {n}"))
    closed = started[0]
    reply(client, auth, closed, type="admin", admin_id="1", message_type="close")
    services.runner.catch_up()
    assert [c["id"] for c in listed(client, auth, open="false")["conversations"]] == [closed]
    pages: list[list[str]] = []
    url: str | None = "/conversations?open=true&per_page=2"
    while url:  # pages.next is the next page's whole URL, as the Intercom clients follow it
        page = client.get(url, headers=auth).get_json()
        assert page["total_count"] == 6
        pages.append([c["id"] for c in page["conversations"]])
        url = page["pages"]["next"]
        assert url is None or url.startswith("http://localhost/conversations?")
    assert [i for p in pages for i in p] == list(reversed(started[1:]))  # newest first
    # before= a Unix time: those last updated before it (the fourth was updated at its start)
    fourth = client.get(f"/conversations/{started[3]}", headers=auth).get_json()
    earlier = listed(client, auth, open="true", before=str(fourth["updated_at"]))
    assert [c["id"] for c in earlier["conversations"]] == [started[2], started[1]]
    assert len(listed(client, auth, type="admin", unassigned="true")["conversations"]) == 7
    clock.advance(minutes=1)
    reply(client, auth, closed, type="user", user_id="k", message_type="comment", body="Again")
    services.runner.catch_up()
    assert listed(client, auth, open="false")["conversations"] == []  # the user reopened it
    assert listed(client, auth, open="true")["conversations"][0]["id"] == closed


def test_bad_replies_are_refused_and_change_nothing(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    admins(services, app.app_id)
    ping(services, app.app_id, {"user_id": "j"})
    ping(services, app.app_id, {"user_id": "other"})
    conversation_id = write_in(client, auth, "j", "Hello")
    head = services.store.head()
    cases: list[tuple[str, dict[str, Any], int, str | None]] = [
        (
            conversation_id,
            {"type": "admin", "admin_id": "1", "message_type": "poke"},
            400,
            "message_type",
        ),
        (
            conversation_id,
            {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "  "},
            400,
            "body",
        ),
        (
            conversation_id,
            {"type": "admin", "admin_id": "1", "message_type": "assignment"},
            400,
            "assignee_id",
        ),
        (
            conversation_id,
            {"type": "admin", "admin_id": "9", "message_type": "comment", "body": "x"},
            400,
            "admin_id",
        ),
        (
            conversation_id,
            {"type": "user", "user_id": "j", "message_type": "note", "body": "x"},
            400,
            "message_type",
        ),
        (
            conversation_id,
            {"type": "user", "user_id": "other", "message_type": "comment", "body": "not mine"},
            404,
            None,
        ),
        (
            conversation_id,
            {"type": "admin", "email": "nobody@acme.io", "message_type": "close"},
            400,
            "email",
        ),
        (
            conversation_id,
            {"type": "admin", "admin_id": "1", "message_type": "close", "conversation_id": "x"},
            400,
            "conversation_id",
        ),
        ("0" * 32, {"type": "admin", "admin_id": "1", "message_type": "close"}, 404, None),
        ("nope", {"type": "admin", "admin_id": "1", "message_type": "close"}, 404, None),
    ]
    for target, given, status, field in cases:
        refused = post(client, f"/conversations/{target}/reply", auth, given)
        assert refused.status_code == status, (given, refused.get_json())
        if field is not None:
            assert refused.get_json()["errors"][0]["field"] == field, refused.get_json()
    unread = client.put(f"/conversations/{conversation_id}", json={"read": False}, headers=auth)
    assert unread.status_code == 400 and "only true" in unread.get_json()["errors"][0]["message"]
    assert services.store.head() == head
    empty = post(client, "/messages", auth, {"from": {"type": "user", "user_id": "j"}, "body": ""})
    assert empty.status_code == 400
    assert services.store.head() == head
    assert client.get("/admins", headers=auth).get_json()["admins"][1]["name"] == "Bob Admin"


def test_teammates_get_an_email_when_a_user_writes_as_each_of_them_chose(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    import email
    import email.policy
    import time
    from email.message import EmailMessage
    from pathlib import Path

    admins(services, app.app_id)  # Ann (1, the default assignee) and Bob (2)
    add_admin(AddAdmin(app.app_id, "cy@acme.io", "Cy Admin"), services.store, services.clock)  # 3
    set_default_assignee(SetDefaultAssignee(app.app_id, "1"), services.store, services.clock)
    for admin_id, setting in (("2", "all"), ("3", "none")):
        changed = client.put(f"/admins/{admin_id}", json={"notifications": setting}, headers=auth)
        assert changed.status_code == 200 and changed.get_json()["notifications"] == setting
    refused = client.put("/admins/2", json={"notifications": "sometimes"}, headers=auth)
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["field"] == "notifications"
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"})
    outbox = Path(services.config.outbox_dir)

    def arrived() -> list[email.message.Message]:
        settle(client.application)
        time.sleep(0.05)
        found = sorted(outbox.glob("*.eml")) if outbox.exists() else []
        return [email.message_from_bytes(f.read_bytes()) for f in found]

    conversation_id = write_in(client, auth, "j", "Is there an API?")
    first = arrived()
    assert sorted(str(m["To"]) for m in first) == ["ann@acme.io", "bob@acme.io"]
    assert first[0]["Subject"] == "John Smith wrote to Acme"
    link = f"/apps/{app.app_id}/inbox/{conversation_id}"  # the dashboard's page
    parsed = email.message_from_bytes(first[0].as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    plain = parsed.get_body(("plain",))
    assert plain is not None and link in plain.get_content()
    reply(
        client,
        auth,
        conversation_id,
        type="admin",
        admin_id="1",
        message_type="note",
        body="secret plan",
    )
    reply(
        client,
        auth,
        conversation_id,
        type="admin",
        admin_id="1",
        message_type="assignment",
        assignee_id="3",
    )
    client.put("/admins/2", json={"notifications": "mine"}, headers=auth)
    reply(
        client,
        auth,
        conversation_id,
        type="user",
        user_id="j",
        message_type="comment",
        body="Found the docs, thanks",
    )
    later = arrived()[len(first) :]
    assert later == []  # Cy has it now but wants none; Ann and Bob are no longer involved
    client.put("/admins/3", json={"notifications": "mine"}, headers=auth)
    reply(
        client,
        auth,
        conversation_id,
        type="user",
        user_id="j",
        message_type="comment",
        body="One more thing",
    )
    (last,) = arrived()[len(first) :]
    assert last["To"] == "cy@acme.io"
    text = next(p for p in last.walk() if p.get_content_type() == "text/plain")
    words = text.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "One more thing" in words and "secret plan" not in words


def test_counts_per_admin_show_each_teammates_open_closed_and_unread(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    admins(services, app.app_id)
    set_default_assignee(SetDefaultAssignee(app.app_id, "1"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io"})
    ping(services, app.app_id, {"user_id": "k", "email": "kim@x.io"})
    first = write_in(client, auth, "j", "First question")
    second = write_in(client, auth, "k", "Second question")
    third = write_in(client, auth, "k", "Third question")

    def counts(**args: str) -> dict[str, Any]:
        services.runner.catch_up()
        found = client.get("/counts", query_string=args, headers=auth)
        assert found.status_code == 200, found.get_json()
        return dict(found.get_json()["conversation"])

    def per_admin() -> dict[str, tuple[int, int, int]]:
        listed = counts(type="conversation", count="admin")["admin"]
        return {a["name"]: (a["open"], a["closed"], a["unread"]) for a in listed}

    assert per_admin() == {"Ann Admin": (3, 0, 3), "Bob Admin": (0, 0, 0)}
    read = {"type": "admin", "admin_id": "1", "read": True}
    assert client.put(f"/conversations/{first}", json=read, headers=auth).status_code == 200
    reply(
        client, auth, second, type="admin", admin_id="1", message_type="assignment", assignee_id="2"
    )
    reply(client, auth, third, type="admin", admin_id="1", message_type="close")
    assert per_admin() == {"Ann Admin": (1, 1, 0), "Bob Admin": (1, 0, 1)}
    # John writes again: Ann has something unread once more.
    reply(client, auth, first, type="user", user_id="j", message_type="comment", body="Any news?")
    assert per_admin()["Ann Admin"] == (1, 1, 1)
    assert counts(type="conversation") == {"open": 2, "closed": 1, "assigned": 2, "unassigned": 0}
    wrong = client.get(
        "/counts", query_string={"type": "conversation", "count": "tag"}, headers=auth
    )
    assert wrong.status_code == 400 and wrong.get_json()["errors"][0]["field"] == "count"


def test_the_forms_the_intercom_1x_clients_send_are_understood(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    """python-intercom sends `conversation_id` in every reply's body, names an admin by email in
    its examples, marks read with a bare `{read: true}`, and lists the inbox right after a write."""
    admins(services, app.app_id)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io"})
    conversation_id = write_in(client, auth, "j", "Where is my invoice?")
    # No catch_up: the answer to a write waits until the lists show it.
    (listed_now,) = listed(client, auth, type="user", email="john@x.io")["conversations"]
    assert listed_now["id"] == conversation_id and listed_now["read"] is True
    answered = reply(
        client, auth, conversation_id, conversation_id=conversation_id, type="admin",
        email="BOB@acme.io", message_type="comment", body="Sent again.",
    )  # fmt: skip
    assert answered["conversation_parts"]["conversation_parts"][-1]["author"]["id"] == "2"
    assert listed(client, auth)["conversations"][0]["read"] is False  # the user has not read it
    assigned = reply(
        client, auth, conversation_id, conversation_id=conversation_id, type="admin",
        admin_id="1", message_type="assignment", assignee_id="2",
    )  # fmt: skip
    assert assigned["assignee"] == {"type": "admin", "id": "2"}
    (bobs,) = listed(client, auth, type="admin", admin_id="2")["conversations"]
    assert bobs["id"] == conversation_id
    read = client.put(f"/conversations/{conversation_id}", json={"read": True}, headers=auth)
    assert read.status_code == 200 and read.get_json()["read"] is True
    assert listed(client, auth, type="user", user_id="j", unread="true")["conversations"] == []
    closed = client.post(
        f"/conversations/{conversation_id}/reply/",  # with the clients' trailing slash
        json={"conversation_id": conversation_id, "type": "admin", "admin_id": "1",
              "message_type": "close", "body": "Closing, thanks!"},
        headers=auth,
    )  # fmt: skip
    assert closed.status_code == 200 and closed.get_json()["open"] is False
    assert listed(client, auth, open="false")["conversations"][0]["id"] == conversation_id
