"""The inbox as the team uses it over HTTP: the views with their counts, newest first, unread
marked and cleared by reading; replying, noting, assigning, closing and reopening through
the dashboard's forms (the user sees only the reply); a refused reply changes nothing; the
live stream names what changed with its log position and resumes from `Last-Event-ID`;
another app's teammate gets 404 for the pages, the forms and the stream."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from commands.clock import ManualClock
from commands.conversations import Reply, reply
from commands.handling import handle
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate
from tests.helpers import basic, ping, post, settle
from web.bootstrap import Services


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _writes_in(client: FlaskClient, app: CreatedApp, user_id: str, body: str) -> str:
    asked = {"from": {"type": "user", "user_id": user_id}, "body": body}
    created = post(client, "/messages", basic(app), asked)
    assert created.status_code == 200, created.get_data(as_text=True)
    return str(created.get_json()["id"])


def _rows(html: str) -> list[tuple[str, bool]]:
    """The list's conversations, top to bottom: (who, marked unread)."""
    items = re.findall(
        r'<li class="([^"]*)">\s*<a href="[^"]*/inbox/[0-9a-f]{32}[^"]*"'
        r'.*?<span class="name"><bdi>(.*?)</bdi>',
        html,
        re.S,
    )
    return [(name, "unread" in classes) for classes, name in items]


def _world(client: FlaskClient, services: Services, app: CreatedApp) -> dict[str, str]:
    clock = services.clock
    assert isinstance(clock, ManualClock)
    teammate(services, app.app_id)  # Ann Admin, admin "1"
    add_admin(AddAdmin(app.app_id, "bob@acme.io", "Bob Builder"), services.store, services.clock)
    for name in ("jo", "max", "sam"):
        ping(services, app.app_id, {"user_id": name, "name": name.title()})
    talks = {}
    for name in ("jo", "max", "sam"):
        talks[name] = _writes_in(client, app, name, f"Help from {name}")
        clock.advance(seconds=60)
    for name, to in (("jo", "1"), ("max", "2")):
        part = {"type": "admin", "admin_id": "2", "message_type": "assignment", "assignee_id": to}
        assert (
            post(client, f"/conversations/{talks[name]}/reply", basic(app), part).status_code == 200
        )
        clock.advance(seconds=60)
    settle(client.application)
    return talks


def test_the_views_count_and_list_newest_first_and_reading_clears_unread(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    talks = _world(client, services, app)
    sign_in(client, "ann@acme.io", PASSWORD)
    base = f"/apps/{app.app_id}/inbox"

    mine = client.get(base).get_data(as_text=True)
    # Jo's, assigned to Ann and unread, and Sam's, which nobody has taken yet.
    assert "<title>(2) Inbox · Acme · Parley</title>" in mine
    assert re.search(r'aria-current="page">Mine <span class="count">1</span>', mine)
    assert re.search(r">Unassigned <span class=\"count\">1</span>", mine)
    assert re.search(r">All <span class=\"count\">3</span>", mine)
    assert _rows(mine) == [("Jo", True)]
    every = client.get(f"{base}?view=all").get_data(as_text=True)
    assert _rows(every) == [("Max", True), ("Jo", True), ("Sam", True)]  # newest change first
    assert "Bob Builder" in every and "Unassigned" in every
    assert _rows(client.get(f"{base}?view=unassigned").get_data(as_text=True)) == [("Sam", True)]

    page = client.get(f"{base}/{talks['jo']}?view=mine").get_data(as_text=True)
    assert "Help from jo" in page and 'aria-current="true"' in page
    settle(client.application)
    again = client.get(base).get_data(as_text=True)
    assert _rows(again) == [("Jo", False)]
    assert "<title>(1) Inbox · Acme · Parley</title>" in again  # Sam's still waits
    assert client.get(f"{base}?view=nonsense&state=x").status_code == 200  # the default view
    assert client.get(f"{base}?before=garbage").status_code == 200


def test_reply_note_assign_close_and_reopen_from_the_dashboard(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    talks = _world(client, services, app)
    sign_in(client, "ann@acme.io", PASSWORD)
    talk = talks["sam"]
    page = f"/apps/{app.app_id}/inbox/{talk}"
    csrf = _csrf(client.get(page).get_data(as_text=True))

    sent = client.post(f"{page}/reply", data={"csrf_token": csrf, "body": "We're **on** it"})
    assert sent.status_code == 303 and sent.headers["Location"].startswith(page)
    htmx = {"HX-Request": "true"}
    noted = client.post(
        f"{page}/reply", data={"csrf_token": csrf, "mode": "note", "body": "VIP"}, headers=htmx
    )
    assert noted.status_code == 200 and 'id="conversation"' in noted.get_data(as_text=True)
    assigned = client.post(
        f"{page}/assign", data={"csrf_token": csrf, "assignee": "2", "note": "Yours, Bob"}
    )
    assert assigned.status_code == 303
    assert client.post(f"{page}/close", data={"csrf_token": csrf}).status_code == 303
    shown = client.get(page).get_data(as_text=True)
    assert "<strong>on</strong>" in shown and "Private note · the user never sees it" in shown
    assert "assigned it to <strong><bdi>Bob Builder</bdi></strong>" in shown
    assert "Yours, Bob" in shown and ">Closed<" in shown and "Reopen conversation" in shown
    assert client.post(f"{page}/reopen", data={"csrf_token": csrf}).status_code == 303
    assert ">Open<" in client.get(page).get_data(as_text=True)

    as_user = client.get(f"/conversations/{talk}", headers=basic(app)).get_json()[
        "conversation_parts"
    ]["conversation_parts"]
    kinds = [p["part_type"] for p in as_user]
    assert kinds == ["comment", "note", "assignment", "close", "open"]  # the team sees all
    user_view = client.post(
        f"/conversations/{talk}/reply",
        headers=basic(app),
        json={"type": "user", "user_id": "sam", "message_type": "comment", "body": "ok"},
    ).get_json()["conversation_parts"]["conversation_parts"]
    assert [p["body"] for p in user_view] == ["<p>We're <strong>on</strong> it</p>", "<p>ok</p>"]
    via = [p["author"] for p in as_user]
    assert all(a == {"type": "admin", "id": "1"} for a in via)


def test_an_empty_reply_is_refused_beside_the_box_and_records_nothing(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    talks = _world(client, services, app)
    sign_in(client, "ann@acme.io", PASSWORD)
    page = f"/apps/{app.app_id}/inbox/{talks['jo']}"
    csrf = _csrf(client.get(page).get_data(as_text=True))
    head = services.store.head()
    refused = client.post(
        f"{page}/reply", data={"csrf_token": csrf, "body": "   "}, headers={"HX-Request": "true"}
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="reply-error"' in html and "Write something first." in html
    assert 'aria-describedby="reply-error"' in html
    wrong = client.post(f"{page}/assign", data={"csrf_token": csrf, "assignee": "99"})
    assert wrong.status_code == 422 and 'id="assign-error"' in wrong.get_data(as_text=True)
    assert services.store.head() == head


def test_another_apps_teammate_gets_404_for_pages_forms_and_stream(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    talks = _world(client, services, app)
    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    sign_in(client, "ann@acme.io", PASSWORD)
    csrf = _csrf(client.get(f"/apps/{other.app_id}/inbox").get_data(as_text=True))
    head = services.store.head()
    # Ann is in both apps, but the conversation is Acme's: under Other's address it is not there.
    wrong = f"/apps/{other.app_id}/inbox/{talks['jo']}"
    assert client.get(wrong).status_code == 404
    for step in ("reply", "assign", "close", "reopen"):
        done = client.post(
            f"{wrong}/{step}", data={"csrf_token": csrf, "body": "x", "assignee": "1"}
        )
        assert done.status_code == 404, step
    assert services.store.head() == head
    stranger = create_app(CreateApp("Stranger"), services.store, services.clock)
    for path in ("inbox", "inbox/unread", "stream", f"inbox/{talks['jo']}"):
        assert client.get(f"/apps/{stranger.app_id}/{path}").status_code == 404, path


def _messages(chunks: Iterator[Any], wanted: str) -> list[dict[str, str]]:
    """SSE messages read off the stream until one of the `wanted` event."""
    found: list[dict[str, str]] = []
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if fields:
                found.append(fields)
            if fields.get("event") == wanted:
                return found
    return found


def test_the_stream_names_each_change_with_its_position_and_resumes_from_last_event_id(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    talks = _world(client, services, app)
    sign_in(client, "ann@acme.io", PASSWORD)
    before = services.store.head()
    stream = client.get(f"/apps/{app.app_id}/stream?after={before}", buffered=False)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    chunks = iter(stream.response)

    cmd = Reply(
        app.app_id,
        talks["max"],
        {"type": "user", "id": _key(services, app, "max")},
        "comment",
        body="Still stuck",
    )
    handle(reply, cmd, services.store, services.clock)
    said = _messages(chunks, "inbox")
    assert said[-1]["event"] == "inbox" and json.loads(said[-1]["data"]) == [talks["max"]]
    assert {"event": f"conversation-{talks['max']}", "data": talks["max"]} in said
    position = int(said[-1]["id"])
    assert position > before
    stream.close()

    # Two changes while no dashboard listened: a reconnect from the last id gets both.
    for name in ("jo", "sam"):
        cmd = Reply(app.app_id, talks[name], {"type": "admin", "id": "1"}, "note", body="later")
        handle(reply, cmd, services.store, services.clock)
    settle(client.application)
    again = client.get(
        f"/apps/{app.app_id}/stream", headers={"Last-Event-ID": str(position)}, buffered=False
    )
    resumed = _messages(iter(again.response), "inbox")
    assert sorted(json.loads(resumed[-1]["data"])) == sorted([talks["jo"], talks["sam"]])
    assert int(resumed[-1]["id"]) > position
    again.close()


def _key(services: Services, app: CreatedApp, user_id: str) -> str:
    return ping(services, app.app_id, {"user_id": user_id}).user.id.hex


def test_streams_over_the_cap_are_told_to_come_back_later_and_close(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    _world(client, services, app)
    sign_in(client, "ann@acme.io", PASSWORD)
    client.application.extensions["parley_live"].limit = 1
    held = client.get(f"/apps/{app.app_id}/stream", buffered=False)
    chunks = iter(held.response)
    assert next(chunks) in ("retry: 1000\n\n", b"retry: 1000\n\n")  # admitted, and held open
    over = client.get(f"/apps/{app.app_id}/stream?after=0")
    said = over.get_data(as_text=True)  # answered at once: it does not wait
    assert said.startswith("retry: 10000\n\n")
    assert "event: inbox" in said  # what changed after 0 all the same
    held.close()
    again = client.get(f"/apps/{app.app_id}/stream", buffered=False)  # the slot is free again
    assert next(iter(again.response)) in ("retry: 1000\n\n", b"retry: 1000\n\n")
    again.close()


def test_a_teammates_message_joins_the_inbox_once_the_user_answers_it(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    _world(client, services, app)
    ping(services, app.app_id, {"user_id": "jo", "email": "jo@example.com"})
    sent = {
        "message_type": "email",
        "subject": "Your export",
        "body": "Hi **Jo**, how is the export going?",
        "from": {"type": "admin", "id": "1"},
        "to": {"type": "user", "user_id": "jo"},
    }
    assert post(client, "/messages", basic(app), sent).status_code == 200
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)
    every = f"/apps/{app.app_id}/inbox?view=all"
    assert _rows(client.get(every).get_data(as_text=True)) == [
        ("Max", True),
        ("Jo", True),
        ("Sam", True),
    ]
    waiting = client.get("/conversations?type=user&user_id=jo", headers=basic(app)).get_json()
    opened = [c["id"] for c in waiting["conversations"] if c["parts"] == 0]
    assert len(opened) == 1  # the REST API lists it as Intercom's did
    answer = {"type": "user", "user_id": "jo", "message_type": "comment", "body": "It *works*"}
    assert post(client, f"/conversations/{opened[0]}/reply", basic(app), answer).status_code == 200
    settle(client.application)
    html = client.get(every).get_data(as_text=True)
    assert _rows(html)[0] == ("Jo", True)
    assert re.search(r'aria-current="page">All <span class="count">4</span>', html)
    assert "<bdi>It works</bdi>" in html  # the latest words as read, not their Markdown


def test_a_tab_signed_out_elsewhere_is_sent_to_the_sign_in_page_whole(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    talks = _world(client, services, app)
    sign_in(client, "ann@acme.io", PASSWORD)
    page = f"/apps/{app.app_id}/inbox/{talks['jo']}"
    csrf = _csrf(client.get(page).get_data(as_text=True))
    client.post("/signout", data={"csrf_token": csrf})
    head = services.store.head()
    htmx = {"HX-Request": "true", "Referer": f"http://localhost{page}?view=all"}
    for answer in (
        client.get(f"/apps/{app.app_id}/inbox?part=list", headers=htmx),
        client.post(f"{page}/reply", data={"csrf_token": csrf, "body": "x"}, headers=htmx),
    ):
        assert answer.status_code in (204, 400)
        if answer.status_code == 204:
            assert answer.headers["HX-Redirect"].startswith("/signin?next=")
            assert "inbox" in answer.headers["HX-Redirect"]
    assert services.store.head() == head
