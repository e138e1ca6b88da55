"""A conversation as the team reads it (`/apps/<app_id>/inbox/<id>`, where a user's activity
links): the opening message and every part in time order, notes marked as unseen by the
user, assignments and closing, markup sanitised, the user beside it; another app's 404."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate
from tests.helpers import basic, ping, post, settle
from web.bootstrap import Services


def test_a_conversation_reads_in_order_with_its_notes_marked_and_links_from_the_activity(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)  # Ann Admin, admin "1"
    auth = basic(app)
    key = ping(services, app.app_id, {"user_id": "jo", "name": "Jo <b>Bold</b>"}).user.id.hex
    asked = {
        "from": {"type": "user", "user_id": "jo"},
        "body": "Export **stuck** <script>x</script>",
    }
    talk = post(client, "/messages", auth, asked).get_json()["id"]
    conversation = f"/conversations/{talk}/reply"
    for part in (
        {"type": "admin", "admin_id": "1", "message_type": "note", "body": "VIP, be quick"},
        {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "On it."},
        {"type": "user", "user_id": "jo", "message_type": "comment", "body": "Thanks!"},
    ):
        assert post(client, conversation, auth, part).status_code == 200
    closed = {"message_type": "close", "type": "admin", "admin_id": "1"}
    assert post(client, conversation, auth, closed).status_code == 200
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)

    page = client.get(f"/apps/{app.app_id}/inbox/{talk}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    said = [
        re.sub(r"<[^>]+>", "", s).strip()
        for s in re.findall(r'<div class="said">(.*?)</div>', html, re.S)
    ]
    shown_as_text = "Export stuck &lt;script&gt;x&lt;/script&gt;"  # the user's HTML, as text
    assert said == [shown_as_text, "VIP, be quick", "On it.", "Thanks!"]
    assert "<strong>stuck</strong>" in html and "<script>x" not in html
    assert "Private note · the user never sees it" in html
    assert "<bdi>Ann Admin</bdi> closed the conversation" in html and ">Closed<" in html
    assert html.count("Jo &lt;b&gt;Bold&lt;/b&gt;") >= 2 and "<b>Bold" not in html
    profile = client.get(f"/apps/{app.app_id}/users/{key}").get_data(as_text=True)
    assert f'href="/apps/{app.app_id}/inbox/{talk}"' in profile  # the activity links here

    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "zed@other.io", "Zed"), services.store, services.clock)
    assert client.get(f"/apps/{other.app_id}/inbox/{talk}").status_code == 404
    assert client.get(f"/apps/{app.app_id}/inbox/not-an-id").status_code == 404


def test_a_message_page_shows_what_it_says_and_achieved_and_the_activity_links_to_it(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    auth = basic(app)
    key = ping(services, app.app_id, {"user_id": "jo", "email": "jo@example.com"}).user.id.hex
    welcome = {
        "message_type": "email",
        "subject": "Welcome <aboard>",
        "body": 'Hi {{ first_name | fallback:"there" }}, **welcome**.',
        "template": "personal",
        "from": {"type": "admin", "id": "1"},
        "to": {"type": "user", "user_id": "jo"},
    }
    sent = post(client, "/messages", auth, welcome).get_json()["id"]
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)
    profile = client.get(f"/apps/{app.app_id}/users/{key}").get_data(as_text=True)
    # The activity's line links to the conversation a personal email opened, else the message.
    emailed = re.search(r"Emailed “Welcome &lt;aboard&gt;”.*?href=\"([^\"]+)\"", profile, re.S)
    assert emailed and client.get(emailed.group(1)).status_code == 200
    page = client.get(f"/apps/{app.app_id}/messages/{sent}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Welcome &lt;aboard&gt;" in html and ">Sent<" in html
    assert "Hi there, <strong>welcome</strong>." in html
    assert "<dt>Emails sent</dt><dd>1</dd>" in html
    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "zed@other.io", "Zed"), services.store, services.clock)
    assert client.get(f"/apps/{other.app_id}/messages/{sent}").status_code == 404
    assert client.get(f"/apps/{app.app_id}/messages/nope").status_code == 404
