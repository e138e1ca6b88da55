"""A user's activity on their profile (issue 14): their whole history from the event store,
newest first, in plain words with where each thing came from; "Older" pages through it as a
plain link and in place (htmx), without gaps or repeats across pages."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from commands.handling import handle
from commands.users import Ping, Saved, UserInput, record_ping
from domain.conversations import emailed_conversation_id
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate
from tests.helpers import ping, post, settle
from web.bootstrap import Services

LINE = re.compile(r'<time[^>]*>[^<]*</time>\s*<span class="what"><bdi>(.*?)</bdi>([^\n]*)')
OLDER = re.compile(r'<li class="older"><a href="([^"]+)"')


def lines(page: str) -> list[str]:
    """Each activity line as a teammate reads it: the words, then the source in brackets."""
    found = []
    for words, rest in LINE.findall(page):
        source = re.search(r'<span class="badge">([^<]*)', rest)
        said = html.unescape(words)
        found.append(f"{said} ({html.unescape(source[1])})" if source else said)
    return found


def older(page: str) -> str | None:
    found = OLDER.search(page)
    return html.unescape(found[1]) if found else None


def in_paris(services: Services, app_id: str, url: str, **settings: Any) -> Saved:
    """A snippet page view from an address the lookup places in Paris."""
    cmd = Ping(app_id=app_id, user=UserInput(**settings), url=url, ip="81.2.69.142")
    return handle(record_ping, cmd, services.store, services.clock, lambda _ip: ("Paris", "FR"))


def test_each_kind_of_event_reads_in_plain_words_newest_first(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    teammate(services, app.app_id)  # Ann Admin, admin "1"
    first = {"user_id": "ada", "email": "ada@x.io", "custom": {"plan": "free"}}
    key = in_paris(services, app.app_id, "https://app.x.io/billing", **first).user.id.hex
    post(client, "/users", auth, {"user_id": "ada", "custom_attributes": {"plan": "pro"}})
    now = int(services.clock.now().timestamp())
    event = {"event_name": "invited-teammate", "user_id": "ada", "created_at": now}
    assert (
        post(client, "/events", auth, {**event, "metadata": {"role": "admin"}}).status_code == 202
    )
    post(client, "/tags", auth, {"name": "VIP", "users": [{"user_id": "ada"}]})
    welcome = {
        "message_type": "email",
        "subject": "Welcome aboard",
        "body": "Hi, thanks for joining.",
        "template": "personal",
        "from": {"type": "admin", "id": "1"},
        "to": {"type": "user", "user_id": "ada"},
    }
    welcomed = post(client, "/messages", auth, welcome).get_json()["id"]
    settle(client.application)
    asked = {"from": {"type": "user", "user_id": "ada"}, "body": "Where is the export?"}
    talk = post(client, "/messages", auth, asked).get_json()["id"]
    answer = {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "Top right."}
    post(client, f"/conversations/{talk}/reply", auth, answer)
    thanks = {"type": "user", "user_id": "ada", "message_type": "comment", "body": "Found it!"}
    post(client, f"/conversations/{talk}/reply", auth, thanks)
    post(client, "/users", auth, {"user_id": "ada", "unsubscribed_from_emails": True})
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)

    page = client.get(f"/apps/{app.app_id}/users/{key}").get_data(as_text=True)

    assert lines(page) == [
        "Unsubscribed from emails (REST API)",
        "Replied: “Found it!” (REST API)",
        "Ann Admin replied: “Top right.” (teammate)",
        "Started a conversation: “Where is the export?” (REST API)",
        "Emailed “Welcome aboard” by Ann Admin (email)",
        "Tagged VIP (REST API)",
        "Tracked invited-teammate (role: admin) (REST API)",
        "custom plan changed from free to pro (REST API)",
        "Seen on /billing from Paris, new session (snippet)",
        "custom plan set to free (snippet)",
        "Became a user (user_id ada, email ada@x.io)",
    ]
    assert older(page) is None
    inbox = f'<a class="to" href="/apps/{app.app_id}/inbox/'
    assert page.count(f'{inbox}{talk}">Conversation</a>') == 3
    assert page.count(f'{inbox}{emailed_conversation_id(welcomed, key)}">') == 1
    assert page.count('class="to"') == 4


def history(services: Services, app_id: str, auth: dict[str, str], client: FlaskClient) -> str:
    """A user with 70 page views and, in between, a conversation of 12 parts: 84 lines."""
    key = ping(services, app_id, {"user_id": "bo"}, url="https://x.io/p/0").user.id.hex
    asked = {"from": {"type": "user", "user_id": "bo"}, "body": "r0"}
    talk = post(client, "/messages", auth, asked).get_json()["id"]
    for n in range(1, 70):
        ping(services, app_id, {"user_id": "bo"}, url=f"https://x.io/p/{n}")
        if n % 6 == 0:
            said = {"type": "user", "user_id": "bo", "message_type": "comment", "body": f"r{n}"}
            post(client, f"/conversations/{talk}/reply", auth, said)
    settle(client.application)
    return key


def test_older_pages_follow_on_without_gaps_or_repeats_as_links_and_in_place(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    teammate(services, app.app_id)
    key = history(services, app.app_id, auth, client)
    sign_in(client, "ann@acme.io", PASSWORD)
    expected = ["Became a user (user_id bo)", "Seen on /p/0, new session (snippet)"]
    expected.append("Started a conversation: “r0” (REST API)")
    for n in range(1, 70):
        expected.append(f"Seen on /p/{n} (snippet)")
        if n % 6 == 0:
            expected.append(f"Replied: “r{n}” (REST API)")
    expected.reverse()

    profile = client.get(f"/apps/{app.app_id}/users/{key}").get_data(as_text=True)
    shown, link = lines(profile), older(profile)
    assert len(shown) == 30 and link is not None
    in_place = client.get(link, headers={"HX-Request": "true"})
    fragment = in_place.get_data(as_text=True)
    assert in_place.status_code == 200 and "<html" not in fragment and "<section" not in fragment
    plain = client.get(link).get_data(as_text=True)  # the same, whole, for a plain link
    assert "<html" in plain and lines(plain) == lines(fragment) and older(plain) == older(fragment)
    shown += lines(fragment)
    link = older(fragment)
    assert link is not None
    last = client.get(link).get_data(as_text=True)
    shown += lines(last)
    assert older(last) is None
    assert shown == expected

    activity = f"/apps/{app.app_id}/users/{key}/activity"
    assert "No older activity." in client.get(f"{activity}?before=1-1").get_data(as_text=True)
    edited = client.get(f"{activity}?before=yesterday")
    assert edited.status_code == 400
    assert "expected the Older link of a previous page" in edited.get_data(as_text=True)


def test_another_apps_user_is_not_found_and_what_users_send_is_escaped(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    teammate(services, app.app_id)
    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "bob@other.io", "Bob"), services.store, services.clock)
    theirs = ping(services, other.app_id, {"user_id": "secret"}).user.id.hex
    payload = "<img src=x onerror=alert(1)>"
    settings = {"user_id": "eve", "name": f"Eve {payload}", "plan": payload}
    key = ping(services, app.app_id, settings, url=f"https://x.io/{payload}").user.id.hex
    now = int(services.clock.now().timestamp())
    tracked = {"event_name": payload, "user_id": "eve", "created_at": now}
    assert post(client, "/events", auth, tracked).status_code == 202
    post(client, "/tags", auth, {"name": payload, "users": [{"user_id": "eve"}]})
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)

    assert client.get(f"/apps/{app.app_id}/users/{theirs}/activity").status_code == 404
    assert client.get(f"/apps/{other.app_id}/users/{theirs}/activity").status_code == 404
    for path in (f"/apps/{app.app_id}/users/{key}", f"/apps/{app.app_id}/users/{key}/activity"):
        page = client.get(path).get_data(as_text=True)
        assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert f"Tagged {payload} (REST API)" in lines(page)
    assert f"Tracked {payload} (REST API)" in lines(page)


def test_a_user_with_nothing_but_their_creation_shows_that_alone(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    teammate(services, app.app_id)
    key = post(client, "/users", auth, {"user_id": "quiet"}).get_json()["id"]
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)
    page = client.get(f"/apps/{app.app_id}/users/{key}").get_data(as_text=True)
    assert lines(page) == ["Became a user (user_id quiet)"]
    assert older(page) is None and "Activity" in page
