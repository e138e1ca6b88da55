"""Email stats a teammate reads per message: opened, clicked, unsubscribed, each user once;
every link still leads where its author meant, and forged tracking links change nothing."""

from __future__ import annotations

import email
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreatedApp, add_admin
from tests.e2e.test_messages_api import email_to
from tests.helpers import ping, post, settle
from web.bootstrap import Services

LINK = "https://docs.acme.io/start?step=1&lang=en"


class Addresses(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "img" and found.get("src"):
            self.images.append(str(found["src"]))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sent_email(client: FlaskClient, auth: dict[str, str], services: Services) -> Addresses:
    bulk = email_to("a", body=f"Read [the guide]({LINK}) or write to <mailto:help@acme.io>.")
    bulk["to"] = {"type": "users", "filter": {"all": []}}
    response = post(client, "/messages", auth, bulk)
    assert response.status_code == 200, response.get_json()
    settle(client.application)
    (written,) = Path(services.config.outbox_dir).glob("*.eml")
    arrived = email.message_from_bytes(written.read_bytes())
    part = next(p for p in arrived.walk() if p.get_content_type() == "text/html")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    found = Addresses()
    found.feed(payload.decode())
    found.links.append(str(response.get_json()["id"]))  # the message id, last
    return found


def stats(client: FlaskClient, auth: dict[str, str], message_id: str) -> dict[str, Any]:
    return dict(client.get(f"/messages/{message_id}", headers=auth).get_json()["stats"])


def test_opens_clicks_and_unsubscribes_count_once_per_user(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "a", "email": "a@x.io"})
    services.runner.catch_up()
    found = sent_email(client, auth, services)
    message_id = found.links.pop()
    guide, mail, unsubscribe = found.links
    assert mail == "mailto:help@acme.io"  # not http(s): left as it is
    assert "/e/" in guide and "docs.acme.io" not in guide  # goes through Parley
    assert "/unsubscribe/" in unsubscribe
    (pixel,) = found.images
    for _ in range(2):  # a user who opens twice and clicks twice counts once
        image = client.get(path_of(pixel))
        assert image.status_code == 200 and image.mimetype == "image/gif"
        followed = client.get(path_of(guide))
        assert followed.status_code == 302 and followed.headers["Location"] == LINK
    assert client.post(path_of(unsubscribe)).status_code == 200
    services.runner.catch_up()
    counted = stats(client, auth, message_id)
    assert (counted["sent"], counted["opened"], counted["clicked"]) == (1, 1, 1)
    assert counted["unsubscribed"] == 1
    user = client.get("/users?user_id=a", headers=auth).get_json()
    assert user["unsubscribed_from_emails"] is True


def test_a_click_counts_as_an_open_and_forged_links_change_nothing(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "a", "email": "a@x.io"})
    services.runner.catch_up()
    found = sent_email(client, auth, services)
    message_id, guide = found.links[-1], found.links[0]
    head = services.store.head()
    token = guide.split("/e/")[1].split("/")[0]
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    for path in (f"/e/{forged}/click", f"/e/{forged}/open.gif"):
        assert client.get(path).status_code == 404
    assert services.store.head() == head
    assert client.get(path_of(guide)).status_code == 302  # images blocked: only the click
    services.runner.catch_up()
    counted = stats(client, auth, message_id)
    assert (counted["opened"], counted["clicked"], counted["unsubscribed"]) == (1, 1, 0)


def test_an_email_sent_lands_in_the_users_inbox(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "a", "email": "a@x.io", "name": "Al Bo"})
    services.runner.catch_up()
    found = sent_email(client, auth, services)
    message_id = found.links[-1]
    services.runner.catch_up()
    (listed,) = client.get("/conversations?type=user&user_id=a", headers=auth).get_json()[
        "conversations"
    ]
    whole = client.get(f"/conversations/{listed['id']}", headers=auth).get_json()
    opening = whole["conversation_message"]
    assert opening["id"] == message_id
    assert opening["body"].startswith('<p>Read <a href="https://docs.acme.io/start?step=1')
