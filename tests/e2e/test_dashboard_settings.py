"""The app's settings in the dashboard, as a teammate uses them: the REST API key rotated and
shown once, secure mode behind its confirmation, the inbox style the widget then reads,
teammates invited by email and removed, and each teammate's own notification choice."""

from __future__ import annotations

import email
import html
import re
from email import policy
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from commands.apps import (
    AddAdmin,
    CreateApp,
    CreatedApp,
    add_admin,
    authorised_app,
    create_app,
    load_app,
    recent_app,
)
from commands.clock import ManualClock
from commands.store import Parley
from domain.app import user_hash
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate, token
from tests.e2e.test_widget_inbox import identify, ok, widget
from tests.helpers import basic, ping, post, settle
from web.bootstrap import Services


def signed_in_teammate(client: FlaskClient, services: Services, app_id: str) -> None:
    teammate(services, app_id)  # Ann, admin "1"
    assert sign_in(client, "ann@acme.io", PASSWORD).status_code == 302


def form(client: FlaskClient, path: str, shown: str | None = None, **fields: str) -> Any:
    """Post a form as the page `shown` (else `path` itself) gives it, with its CSRF token."""
    return client.post(path, data={"csrf_token": token(client, shown or path), **fields})


def widget_ping(client: FlaskClient, app_id: str, **user: str) -> Any:
    return client.post(
        "/widget/ping", json={"app_id": app_id, "user": user, "url": "https://x.io/"}
    )


def test_a_new_api_key_is_shown_once_works_at_once_and_the_old_one_is_refused(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    signed_in_teammate(client, services, app.app_id)
    old = basic(app)
    assert client.get("/users", headers=old).status_code == 200
    elsewhere = Parley(services.config.database_url)  # another web process, which holds
    assert recent_app(elsewhere, app.app_id).accepts_api_key(app.api_key)  # the old copy
    page = f"/apps/{app.app_id}/settings/api"
    unconfirmed = form(client, page)
    assert unconfirmed.status_code == 400 and "The key is unchanged" in unconfirmed.get_data(True)
    assert client.get("/users", headers=old).status_code == 200
    rotated = form(client, page, confirm="yes")
    assert rotated.status_code == 302  # and reloading what follows makes no other key
    head = services.store.head()
    shown = client.get(rotated.headers["Location"]).get_data(as_text=True)
    assert "Copy it now" in shown
    (new_key,) = re.findall(r'<code id="api-key">([^<]+)</code>', shown)
    assert new_key not in client.get(page).get_data(as_text=True)  # shown once
    assert services.store.head() == head
    new = basic(CreatedApp(app.app_id, new_key, app.secret))
    assert client.get("/users", headers=new).status_code == 200
    assert client.get("/users", headers=old).status_code == 401
    assert authorised_app(elsewhere, app.app_id, app.api_key) is None  # there too, at once
    assert authorised_app(elsewhere, app.app_id, new_key) is not None
    elsewhere.close()


def test_secure_mode_goes_on_only_once_the_snippet_is_said_to_send_user_hash(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    signed_in_teammate(client, services, app.app_id)
    page = f"/apps/{app.app_id}/settings/security"
    refused = form(client, page, secure_mode="on")
    assert refused.status_code == 400 and "Secure mode is still off" in refused.get_data(True)
    assert widget_ping(client, app.app_id, user_id="u1").status_code == 200  # still off
    assert app.secret not in client.get(page).get_data(as_text=True)  # only when asked
    assert app.secret in form(client, page, action="reveal").get_data(as_text=True)
    on = form(client, page, secure_mode="on", confirm="yes")
    assert on.status_code == 302
    assert "pings without a correct user_hash are refused" in client.get(page).get_data(True)
    assert widget_ping(client, app.app_id, user_id="u1").status_code == 401
    signed = widget_ping(client, app.app_id, user_id="u1", user_hash=user_hash(app.secret, "u1"))
    assert signed.status_code == 200
    snippet = html.unescape(client.get(f"/apps/{app.app_id}/settings").get_data(as_text=True))
    assert f'app_id: "{app.app_id}"' in snippet and '  user_id: "9876", //' in snippet
    assert '  user_hash: "HMAC-SHA256 of the user_id' in snippet
    assert f"{app.app_id}@parley.localhost" in snippet  # the incoming address
    assert form(client, page, secure_mode="off").status_code == 302
    assert widget_ping(client, app.app_id, user_id="u2").status_code == 200


def test_the_inbox_style_is_saved_and_the_widget_shows_it(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    signed_in_teammate(client, services, app.app_id)
    page = f"/apps/{app.app_id}/settings/inbox"
    assert "inbox" not in widget_ping(client, app.app_id, user_id="u1").get_json()  # none
    saved = form(client, page, style="simple", colour="#E8590C")
    assert saved.status_code == 302
    answer = widget_ping(client, app.app_id, user_id="u1").get_json()
    assert answer["inbox"] == {
        "style": "simple",
        "colour": "#e8590c",
        "selector": None,
        "count": True,
    }
    preview = client.get(f"/apps/{app.app_id}/settings/inbox.css").get_data(as_text=True)
    assert "--inbox-colour: #e8590c" in preview
    for bad, said in (
        (
            {"style": "advanced", "selector": ""},
            "Selector: the advanced inbox needs a CSS selector",
        ),
        ({"style": "advanced", "selector": "<img src=x>"}, "Selector: expected a CSS selector"),
        ({"style": "simple", "colour": "red"}, "Colour: expected a colour"),
    ):
        refused = form(client, page, **bad)
        assert refused.status_code == 400 and said in refused.get_data(as_text=True)
        assert "<img src=x>" not in refused.get_data(as_text=True)
    assert widget_ping(client, app.app_id, user_id="u1").get_json()["inbox"]["style"] == "simple"
    form(client, page, style="advanced", selector="#help-link", colour="#e8590c")
    inbox = widget_ping(client, app.app_id, user_id="u1").get_json()["inbox"]
    assert inbox["selector"] == "#help-link" and inbox["count"] is False  # box left unticked
    add_admin(AddAdmin(app.app_id, "bob@acme.io", "Bob"), services.store, services.clock)
    assignee = f"/apps/{app.app_id}/settings/assignee"
    assert form(client, assignee, page, assignee="9").status_code == 400
    assert form(client, assignee, page, assignee="2").status_code == 302
    assert load_app(services.store, app.app_id).default_assignee == "2"


def outbox(services: Services) -> list[email.message.EmailMessage]:
    folder = Path(services.config.outbox_dir)
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def test_an_added_teammate_is_emailed_a_link_that_sets_their_password_once(
    client: FlaskClient, services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    signed_in_teammate(client, services, app.app_id)
    page = f"/apps/{app.app_id}/settings/teammates"
    bad = form(client, page, name="Bob", email="not an address")
    assert bad.status_code == 400 and "Nobody was added" in bad.get_data(as_text=True)
    assert form(client, page, name="Ann again", email="ANN@acme.io").status_code == 400
    added = form(client, page, name="Bob <b>Builder</b>", email="Bob@Acme.io")
    assert added.status_code == 302
    listed = client.get(page).get_data(as_text=True)
    assert "Bob &lt;b&gt;Builder&lt;/b&gt;" in listed and "Invited" in listed
    settle(client.application)
    (invitation,) = outbox(services)
    assert invitation["To"] == "bob@acme.io" and "Ann Admin added you" in invitation["Subject"]
    text = invitation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://[^/\s]+(/invitation/\S+)", text)
    assert link is not None
    bob = client.application.test_client()
    assert "Choose your password" in bob.get(link[1]).get_data(as_text=True)
    clock.advance(days=8)
    assert bob.get(link[1]).status_code == 404  # it lasts a week
    clock.advance(days=-8)
    differ = form(bob, link[1], password="a long password", again="a long passwore")
    assert differ.status_code == 400 and "The two passwords differ" in differ.get_data(True)
    chosen = form(bob, link[1], password="bob's long password", again="bob's long password")
    assert chosen.status_code == 302
    assert bob.get(f"/apps/{app.app_id}/users").status_code == 200  # signed in
    assert bob.get(link[1]).status_code == 404  # once only
    again = client.application.test_client()
    assert sign_in(again, "bob@acme.io", "bob's long password").status_code == 302
    settle(client.application)
    assert len(outbox(services)) == 1  # the reaction sent it once


def test_a_removed_teammate_loses_the_app_at_once_and_their_notes_stay(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    signed_in_teammate(client, services, app.app_id)
    teammate(services, app.app_id, "bob@acme.io")  # admin "2"
    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "bob@acme.io", "Bob"), services.store, services.clock)
    bob = client.application.test_client()
    sign_in(bob, "bob@acme.io", PASSWORD)
    auth = basic(app)
    ping(services, app.app_id, {"user_id": "j"})
    written = post(
        client, "/messages", auth, {"from": {"type": "user", "user_id": "j"}, "body": "Hi"}
    )
    talk = written.get_json()["id"]
    note = {"type": "admin", "admin_id": "2", "message_type": "note", "body": "Bob's note"}
    remove = f"/apps/{app.app_id}/settings/teammates/2/remove"
    assert post(client, f"/conversations/{talk}/reply", auth, note).status_code == 200
    answer = {**note, "message_type": "comment", "body": "Bob's answer"}
    assert post(client, f"/conversations/{talk}/reply", auth, answer).status_code == 200
    yourself = form(client, f"/apps/{app.app_id}/settings/teammates/1/remove", remove)
    assert yourself.status_code == 400 and "you cannot remove yourself" in yourself.get_data(True)
    assert "loses access at once" in client.get(remove).get_data(as_text=True)
    assert bob.get(f"/apps/{app.app_id}/users").status_code == 200
    assert form(client, remove).status_code == 302
    assert bob.get(f"/apps/{app.app_id}/users").status_code == 404  # at once
    assert bob.get(f"/apps/{app.app_id}/settings").status_code == 404
    assert bob.get(f"/apps/{other.app_id}/users").status_code == 200  # their other app
    assert "bob@acme.io" not in client.get(f"/apps/{app.app_id}/settings/teammates").get_data(True)
    parts = client.get(f"/conversations/{talk}", headers=auth).get_json()["conversation_parts"]
    kept, _ = parts["conversation_parts"]
    assert kept["author"]["id"] == "2" and "note" in kept["body"]
    assert post(client, f"/conversations/{talk}/reply", auth, note).status_code == 400
    # What the removed teammate said to the user still carries their name in the widget.
    read = ok(widget(client, f"/widget/conversations/{talk}/read", identify(app, "j")))
    (answer,) = read["conversation_parts"]["conversation_parts"]
    assert answer["author"] == {"type": "admin", "id": "2", "name": "Ann Admin"}


def test_each_teammate_chooses_their_own_notifications_on_their_account_page(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    signed_in_teammate(client, services, app.app_id)
    page = f"/apps/{app.app_id}/account"
    assert 'value="mine" checked' in client.get(page).get_data(as_text=True)
    refused = form(client, page, form="notifications", notifications="sometimes")
    assert refused.status_code == 400 and "Nothing was changed" in refused.get_data(True)
    saved = form(client, page, form="notifications", notifications="all")
    assert saved.status_code == 200
    assert "Saved. You get an email for every user message." in saved.get_data(as_text=True)
    assert load_app(services.store, app.app_id).admins["1"]["notifications"] == "all"
    assert 'value="all" checked' in client.get(page).get_data(as_text=True)


def test_a_teammate_of_another_app_finds_no_settings_page_and_changes_nothing(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    theirs = create_app(CreateApp("Theirs"), services.store, services.clock)
    add_admin(AddAdmin(theirs.app_id, "zed@theirs.io", "Zed"), services.store, services.clock)
    sign_in(client, "ann@acme.io", PASSWORD)
    base = f"/apps/{theirs.app_id}/settings"
    for path in (
        "",
        "/security",
        "/api",
        "/inbox",
        "/inbox.css",
        "/teammates",
        "/teammates/1/remove",
    ):
        assert client.get(base + path).status_code == 404, path
    csrf = token(client, f"/apps/{app.app_id}/settings")
    for path, fields in (
        ("/security", {"secure_mode": "on", "confirm": "yes"}),
        ("/security", {"action": "reveal"}),
        ("/api", {"confirm": "yes"}),
        ("/inbox", {"style": "simple"}),
        ("/assignee", {"assignee": "none"}),
        ("/teammates", {"name": "Eve", "email": "eve@acme.io"}),
        ("/teammates/1/invitation", {}),
        ("/teammates/1/remove", {}),
    ):
        answer = client.post(base + path, data={"csrf_token": csrf, **fields})
        assert answer.status_code == 404 and theirs.secret not in answer.get_data(True), path
    after = load_app(services.store, theirs.app_id)
    assert not after.secure_mode and after.inbox_style == "none" and list(after.admins) == ["1"]
    assert after.accepts_api_key(theirs.api_key)
