"""A conversation's whole trail, for auditors (issue 15): the History tab, its JSON-lines
download and `GET /conversations/<id>/history` list every event from the event store in
order, each with its time and actor: the user writing in from the widget or by email (with
the email's Message-ID), notes, an assignment with its note, a reply emailed to the user,
the teammates' notification emails and to whom, read marks, closing and reopening. Another
app's teammate or API key gets 404; payloads in bodies and names stay text; the widget never
shows notes, assignments or the history."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from commands.conversations import SetDefaultAssignee, set_default_assignee
from commands.inbound import receive
from commands.mime import Limits
from projections.conversation_emails import conversation_emails
from queries.conversation_trail import conversation_trail
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate
from tests.e2e.test_inbound import DOMAIN, header, mail, outbox_mail, webhook
from tests.e2e.test_widget_inbox import identify, ok, widget
from tests.helpers import basic, ping, post, settle
from web.bootstrap import Services

Json = dict[str, Any]
CORPUS = Path(__file__).parent / "corpora" / "xss" / "vectors.json"


def team(services: Services, app_id: str) -> None:
    """Ann (admin "1", signed in later, new conversations hers) and Bob (admin "2")."""
    teammate(services, app_id)
    add_admin(AddAdmin(app_id, "bob@acme.io", "Bob Admin"), services.store, services.clock)
    set_default_assignee(SetDefaultAssignee(app_id, "1"), services.store, services.clock)


def by_ann(client: FlaskClient, auth: dict[str, str], talk: str, kind: str, **more: Any) -> None:
    part = {"type": "admin", "admin_id": "1", "message_type": kind, **more}
    answered = post(client, f"/conversations/{talk}/reply", auth, part)
    assert answered.status_code == 200, answered.get_json()


def history(client: FlaskClient, auth: dict[str, str], talk: str) -> list[Json]:
    found = client.get(f"/conversations/{talk}/history", headers=auth)
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert body["type"] == "conversation_history" and body["conversation_id"] == talk
    assert body["total_count"] == len(body["events"])
    assert all(e["type"] == "event" for e in body["events"])
    positions = [e["position"] for e in body["events"]]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    return list(body["events"])


def steps(events: list[Json]) -> list[tuple[str, str]]:
    return [(e["action"], e["actor"]["label"]) for e in events]


def test_a_widget_conversation_lists_every_part_read_mark_and_notification_in_order(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    team(services, app.app_id)
    auth = basic(app)
    ping(services, app.app_id, {"user_id": "jo", "email": "jo@x.io", "name": "Jo"})
    me = identify(app, "jo")
    talk = ok(widget(client, "/widget/conversations", {**me, "body": "Export is stuck"}))["id"]
    settle(client.application)  # Ann, the assignee, is emailed about it
    by_ann(client, auth, talk, "note", body="VIP, be quick")
    by_ann(client, auth, talk, "assignment", assignee_id="2", body="Bob knows exports")
    ok(widget(client, f"/widget/conversations/{talk}/reply", {**me, "body": "Any news?"}))
    settle(client.application)  # now Bob's: he is emailed
    by_ann(client, auth, talk, "comment", body="Bob is on it")
    ok(widget(client, f"/widget/conversations/{talk}/read", me))
    read = {"type": "admin", "admin_id": "2", "read": True}
    assert client.put(f"/conversations/{talk}", json=read, headers=auth).status_code == 200
    by_ann(client, auth, talk, "close")
    by_ann(client, auth, talk, "open", body="Jo wrote again elsewhere")

    events = history(client, auth, talk)
    assert steps(events) == [
        ("started", "Jo (user) via widget"),
        ("notified_teammates", "Parley (system)"),
        ("note", "Ann Admin (teammate) via API key"),
        ("assignment", "Ann Admin (teammate) via API key"),
        ("comment", "Jo (user) via widget"),
        ("notified_teammates", "Parley (system)"),
        ("comment", "Ann Admin (teammate) via API key"),
        ("read", "Jo (user)"),
        ("read", "Bob Admin (teammate)"),
        ("close", "Ann Admin (teammate) via API key"),
        ("open", "Ann Admin (teammate) via API key"),
    ]
    said = [e["summary"] for e in events]
    assert said[0] == "Started the conversation: “Export is stuck”; assigned to Ann Admin"
    assert said[1] == "Emailed a notification of the opening message to Ann Admin <ann@acme.io>"
    assert said[2] == "Added a private note (never shown to the user): “VIP, be quick”"
    assert said[3] == "Assigned the conversation to Bob Admin, noting “Bob knows exports”"
    bobs = f"Emailed a notification of #{events[4]['position']} to Bob Admin <bob@acme.io>"
    assert said[5] == bobs
    assert events[5]["to"] == [
        {"type": "admin", "id": "2", "name": "Bob Admin", "email": "bob@acme.io"}
    ]
    assert said[6] == "Replied to the user: “Bob is on it”"
    assert said[8] == "Read the conversation up to part 4 (everything so far)"
    assert events[2]["data"]["part"]["body"] == "VIP, be quick"
    assert {e["aggregate_type"] for e in events} == {"conversation"}
    assert [e["version"] for e in events] == list(range(1, 12))
    assert events[0]["at"] == "2026-01-01T00:00:00Z" and events[0]["created_at"] == 1767225600

    # The page: every event with its time, actor and words; notes marked.
    sign_in(client, "ann@acme.io", PASSWORD)
    page = client.get(f"/apps/{app.app_id}/inbox/{talk}/history")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = re.findall(r"<tr id=\"event-(\d+)\" class=\"(\w+)\">(.*?)</tr>", html, re.S)
    assert [(int(at), kind) for at, kind, _ in rows] == [
        (e["position"], e["action"]) for e in events
    ]
    for (_, _, row), event in zip(rows, events, strict=True):
        assert f"#{event['position']}" in row and str(escape(event["actor"]["label"])) in row
        assert str(escape(event["summary"])) in row
        assert f'<time datetime="{event["at"]}">' in row
    assert "Private note</span>" in rows[2][2] and "VIP, be quick" in rows[2][2]
    assert 'aria-current="page">History</a>' in html
    assert f'href="/apps/{app.app_id}/inbox/{talk}">Conversation</a>' in html
    # Reading the history is no read mark: the trail is unchanged.
    assert history(client, auth, talk) == events

    # The download: one event a line, the REST trail exactly.
    download = client.get(f"/apps/{app.app_id}/inbox/{talk}/history.jsonl")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    lines = download.get_data(as_text=True).splitlines()
    assert [json.loads(line) for line in lines] == events


def test_an_email_conversation_shows_its_message_ids_and_the_answer_emailed_to_the_user(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    team(services, app.app_id)
    auth = basic(app)
    jobs = client.application.extensions["parley_jobs"]
    first = mail("Jo <jo@example.org>", f"{app.app_id}@{DOMAIN}", "Where is my invoice?")
    talk = webhook(client, auth, first).get_json()["conversation_id"]
    settle(client.application)  # Ann is told first
    by_ann(client, auth, talk, "comment", body="Sent it again.")
    to_jo = next(m for m in outbox_mail(services, jobs, 2) if m["To"] == "jo@example.org")
    again = mail("jo@example.org", header(to_jo, "Reply-To"), "Got it, thanks!", subject="Re: x")
    assert webhook(client, auth, again).get_json()["status"] == "replied"
    settle(client.application)

    events = history(client, auth, talk)
    assert steps(events) == [
        ("started", "Jo (user) via email"),
        ("email_received", "email from jo@example.org"),
        ("notified_teammates", "Parley (system)"),
        ("comment", "Ann Admin (teammate) via API key"),
        ("emailed_user", "Parley (system)"),
        ("comment", "Jo (user) via email"),
        ("email_received", "email from jo@example.org"),
        ("notified_teammates", "Parley (system)"),
    ]
    received, reply = events[1], events[6]
    assert received["aggregate_type"] == "inbound_email"
    assert received["data"]["email_id"] == first["Message-ID"]
    assert received["summary"].startswith(f"Received an email, Message-ID {first['Message-ID']}")
    assert received["summary"].endswith("which started the conversation")
    assert reply["data"]["email_id"] == again["Message-ID"]
    assert reply["summary"].endswith(f"posted as #{events[5]['position']}")
    answer = events[3]["position"]
    assert events[4]["summary"] == f"Emailed the answer #{answer} to the user at jo@example.org"
    assert events[4]["to"] == [
        {"type": "user", "id": events[0]["data"]["user_key"], "email": "jo@example.org"}
    ]


def test_the_trail_finds_an_email_the_index_has_not_read_yet(
    services: Services, app: CreatedApp
) -> None:
    """The index of a conversation's emails (a projection) may lag; the log after its
    position holds the rest, so the trail is whole either way."""
    s = services
    limits = Limits(domain=DOMAIN, secret_key="test")
    sent = mail("jo@example.org", f"{app.app_id}@{DOMAIN}", "Hello?")
    talk = receive(s.store, s.engine, s.clock, limits, app.app_id, bytes(sent)).conversation_id
    assert talk is not None

    def trail(conversation_id: str) -> list[Json]:
        with s.engine.connect() as conn:
            found = conversation_trail(
                s.store, conn, app_id=app.app_id, conversation_id=conversation_id, admins={}
            )
        assert found is not None
        return found.events

    before = trail(talk)  # nothing projected yet
    s.runner.catch_up()
    with s.engine.connect() as conn:
        assert conn.execute(select(conversation_emails)).all() != []
    assert trail(talk) == before
    assert [e["action"] for e in before] == ["started", "email_received"]
    assert before[1]["data"]["email_id"] == sent["Message-ID"]
    # An email without a Message-ID is known by its contents' hash, and said to have none.
    del sent["Message-ID"]
    bare = receive(s.store, s.engine, s.clock, limits, app.app_id, bytes(sent)).conversation_id
    assert bare is not None and bare != talk
    received = trail(bare)[1]
    assert received["data"]["email_id"].startswith("<sha256:")
    assert received["summary"].startswith("Received an email, without a Message-ID, subject")


def test_a_conversation_an_email_opened_shows_its_delivery(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    team(services, app.app_id)
    auth = basic(app)
    ping(services, app.app_id, {"user_id": "jo", "email": "jo@x.io", "name": "Jo"})
    welcome = {
        "message_type": "email",
        "subject": "Welcome",
        "body": "Hi there",
        "template": "personal",
        "from": {"type": "admin", "id": "1"},
        "to": {"type": "user", "user_id": "jo"},
    }
    assert post(client, "/messages", auth, welcome).status_code == 200
    settle(client.application)
    listed = client.get(
        "/conversations", query_string={"type": "user", "user_id": "jo"}, headers=auth
    ).get_json()
    (talk,) = [c["id"] for c in listed["conversations"]]
    events = history(client, auth, talk)
    actions = [e["action"] for e in events]
    assert actions[:3] == ["email_claimed", "email_sending", "email_sent"]
    assert actions[3] == "started" and events[3]["summary"].startswith("Sent a message that opened")
    assert events[3]["actor"]["label"] == "Ann Admin (teammate) via email"
    assert events[2]["summary"] == "The mail server accepted the email to jo@x.io"
    assert {e["aggregate_type"] for e in events[:3]} == {"delivery"}


def test_another_apps_teammate_or_api_key_gets_404(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    team(services, app.app_id)
    auth = basic(app)
    ping(services, app.app_id, {"user_id": "jo", "name": "Jo"})
    asked = {"from": {"type": "user", "user_id": "jo"}, "body": "Hi"}
    talk_id = post(client, "/messages", auth, asked).get_json()["id"]
    other = create_app(CreateApp("Other"), services.store, services.clock)
    teammate(services, other.app_id, "zed@other.io")
    theirs = client.get(f"/conversations/{talk_id}/history", headers=basic(other))
    assert theirs.status_code == 404 and theirs.get_json()["type"] == "error.list"
    assert theirs.get_json()["errors"][0]["code"] == "not_found"
    for unknown in ("nope", "0" * 32):
        assert client.get(f"/conversations/{unknown}/history", headers=auth).status_code == 404
    assert client.get(f"/conversations/{talk_id}/history").status_code == 401
    sign_in(client, "zed@other.io", PASSWORD)
    for suffix in ("history", "history.jsonl"):
        assert client.get(f"/apps/{app.app_id}/inbox/{talk_id}/{suffix}").status_code == 404
        assert client.get(f"/apps/{other.app_id}/inbox/{talk_id}/{suffix}").status_code == 404


def test_the_widget_shows_no_notes_assignments_or_history(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    team(services, app.app_id)
    auth = basic(app)
    ping(services, app.app_id, {"user_id": "jo", "name": "Jo"})
    me = identify(app, "jo")
    talk = ok(widget(client, "/widget/conversations", {**me, "body": "Hello"}))["id"]
    by_ann(client, auth, talk, "note", body="secret-note-words")
    by_ann(client, auth, talk, "assignment", assignee_id="2", body="assigning-note-words")
    by_ann(client, auth, talk, "comment", body="Hi Jo")
    asked = ((f"{talk}/read", me), (f"{talk}/reply", {**me, "body": "Thanks"}))
    for path, given in asked:
        seen = ok(widget(client, f"/widget/conversations/{path}", given))
        parts = seen["conversation_parts"]["conversation_parts"]
        assert {p["part_type"] for p in parts} == {"comment"}
        text = json.dumps(seen)
        assert "secret-note-words" not in text and "assigning-note-words" not in text
        assert "assignee" not in seen and all(p["assigned_to"] is None for p in parts)
    for method in ("get", "post"):
        asked = getattr(client, method)(f"/widget/conversations/{talk}/history", json=me)
        assert asked.status_code in (404, 405)


class Elements(HTMLParser):
    """Every element and attribute name a page holds."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.scripts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))


def test_payloads_in_bodies_and_names_stay_text_on_the_history_page(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    team(services, app.app_id)
    auth = basic(app)
    vectors = json.loads(CORPUS.read_text())["vectors"]
    every = [v["payload"][:2000] for v in vectors if "\x00" not in v["payload"]]
    every = [p for p in every if p.strip()]  # an empty note is refused
    ping(services, app.app_id, {"user_id": "jo", "name": every[0][:255]})
    ping(services, app.app_id, {"user_id": "kim", "name": "Kim"})
    talks = []
    for user_id, body in (("kim", "Plain words"), ("jo", every[1])):
        opened = {"from": {"type": "user", "user_id": user_id}, "body": body}
        talks.append(post(client, "/messages", auth, opened).get_json()["id"])
    clean, talk = talks
    by_ann(client, auth, clean, "note", body="A plain note")
    for payload in every[2:]:
        by_ann(client, auth, talk, "note", body=payload)
    sign_in(client, "ann@acme.io", PASSWORD)
    # The page of payloads holds the elements and attributes of a page of plain words, no more.
    expected, found = Elements(), Elements()
    expected.feed(client.get(f"/apps/{app.app_id}/inbox/{clean}/history").get_data(as_text=True))
    plain = client.get(f"/apps/{app.app_id}/inbox/{talk}/history").get_data(as_text=True)
    found.feed(plain)
    assert "<tbody>" in plain and "table" in expected.tags
    assert found.tags == expected.tags and found.attributes == expected.attributes
    assert found.scripts == expected.scripts
    assert str(escape(every[0][:255])) in plain  # the user's name, as text
    assert plain.count('class="badge note"') == len(every) - 2
    for payload in every[2:]:
        # Each note's fields show its body in full (as JSON text), never as markup.
        assert str(escape(json.dumps(payload, ensure_ascii=False)[1:-1])) in plain
