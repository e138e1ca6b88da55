"""The widget's inbox: the app's inbox style, the unread count in the ping, the message box's
endpoints (list, read, reply, write in) with secure mode, and the box itself in Chromium."""

from __future__ import annotations

import email
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from commands.apps import (
    AddAdmin,
    CreateApp,
    CreatedApp,
    SetInboxStyle,
    SetSecureMode,
    add_admin,
    create_app,
    load_app,
    set_inbox_style,
    set_secure_mode,
)
from commands.auto_messages import ComposeAutoMessage
from commands.clock import ManualClock
from commands.conversations import (
    Reply,
    SetDefaultAssignee,
    StartConversation,
    reply,
    set_default_assignee,
    start_by_user,
)
from commands.store import Parley as Store
from domain.app import App, user_hash
from domain.conversations import MAX_BODY, Conversation
from domain.errors import InvalidValue
from domain.identity import user_id_key
from domain.user import User
from queries.conversations import Inbox, inbox
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_widget_browser import (
    TIMEOUT_MS,
    CustomerSite,
    Parley,
    Tab,
    html,
    served_parley,
    settings_block,
    snippet,
)
from tests.helpers import ping, post, settle
from web.bootstrap import Services
from web.cli import cli

Json = dict[str, Any]


def widget(client: FlaskClient, path: str, body: Any) -> TestResponse:
    """As widget.js sends it: JSON as text/plain, from another origin."""
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        path, data=data, content_type="text/plain", headers={"Origin": "https://acme.test"}
    )


def ok(response: TestResponse) -> Json:
    assert response.status_code == 200, response.get_json()
    assert response.headers["Access-Control-Allow-Origin"] == "https://acme.test"
    return dict(response.get_json())


def the_team(services: Services, app_id: str) -> None:
    add_admin(
        AddAdmin(app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock
    )  # id "1"
    add_admin(
        AddAdmin(app_id, "bob@acme.io", "Bob Admin"), services.store, services.clock
    )  # id "2"


def admin_says(
    client: FlaskClient, auth: dict[str, str], conversation_id: str, kind: str, **given: Any
) -> None:
    sent = post(
        client,
        f"/conversations/{conversation_id}/reply",
        auth,
        {"type": "admin", "admin_id": "1", "message_type": kind, **given},
    )
    assert sent.status_code == 200, sent.get_json()


# --- the setting ----------------------------------------------------------------------------


def test_the_inbox_style_is_none_by_default_and_checked_when_set(clock: ManualClock) -> None:
    app = App(app_id="a1", name="Acme", api_key_hash="x", secret="s", at=clock.now())
    assert app.inbox() == {"style": "none", "colour": "#333333", "selector": None, "count": True}
    refused: list[tuple[dict[str, Any], str]] = [
        ({"style": "fancy"}, "style"),
        ({"style": "simple", "colour": "red"}, "colour"),
        ({"style": "simple", "colour": "#12345"}, "colour"),
        ({"style": "simple", "colour": "#0a7;x"}, "colour"),
        ({"style": "simple", "selector": "#help"}, "selector"),
        ({"style": "simple", "count": False}, "count"),
        ({"style": "advanced"}, "selector"),
        ({"style": "advanced", "selector": "   "}, "selector"),
        ({"style": "advanced", "selector": "a" * 201}, "selector"),
        ({"style": "advanced", "selector": "<img src=x>"}, "selector"),
        ({"style": "advanced", "selector": "a { color: red }"}, "selector"),
    ]
    for given, field in refused:
        with pytest.raises(InvalidValue) as error:
            app.set_inbox_style(**given)
        assert error.value.field == field, given
    assert len(app.collect_events()) == 1  # only Created: nothing refused was recorded
    app.set_inbox_style("simple", colour="#0A7")
    assert app.inbox() == {"style": "simple", "colour": "#0a7", "selector": None, "count": True}
    app.set_inbox_style("advanced", selector=" #nav a.help ", count=False)
    assert app.inbox() == {
        "style": "advanced",
        "colour": "#0a7",
        "selector": "#nav a.help",
        "count": False,
    }
    assert [type(e).__name__ for e in app.collect_events()] == ["InboxStyleSet"] * 2


def test_the_inbox_command_sets_the_style_and_apps_from_before_load_as_none(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite:///{tmp_path}/parley.db"
    store = Store(url)
    created = create_app(CreateApp("Acme"), store, clock)
    store.close()
    runner = CliRunner()
    env = {"DATABASE_URL": url}

    def inbox_cli(*args: str) -> Any:
        return runner.invoke(cli, ["app", "inbox", created.app_id, *args], env=env)

    fresh = Store(url)  # an app whose history has no inbox event yet
    assert load_app(fresh, created.app_id).inbox()["style"] == "none"
    fresh.close()
    done = inbox_cli("simple", "--colour", "#ff6600")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["colour"] == "#ff6600"
    bad = inbox_cli("advanced", "--selector", "<b>")
    assert bad.exit_code != 0 and "selector" in bad.output
    assert inbox_cli("sideways").exit_code != 0
    missing = runner.invoke(cli, ["app", "inbox", "nosuchapp", "none"], env=env)
    assert missing.exit_code != 0 and "nosuchapp" in missing.output
    done = inbox_cli("advanced", "--selector", "#help-link", "--no-count")
    assert done.exit_code == 0, done.output
    reloaded = Store(url)
    assert load_app(reloaded, created.app_id).inbox() == {
        "style": "advanced",
        "colour": "#ff6600",
        "selector": "#help-link",
        "count": False,
    }
    reloaded.close()


# --- the endpoints --------------------------------------------------------------------------


def test_the_ping_carries_the_inbox_and_the_unread_count_only_when_there_is_an_inbox(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    the_team(services, app.app_id)
    booted = {"app_id": app.app_id, "user": {"user_id": "j", "email": "john@x.io"}}
    plain = ok(widget(client, "/widget/ping", booted))
    assert set(plain) == {"type", "user", "messages"}  # no inbox: nothing more to say
    set_inbox_style(
        SetInboxStyle(app.app_id, "simple", colour="#0a7"), services.store, services.clock
    )
    pinged = ok(widget(client, "/widget/ping", booted))
    assert pinged["inbox"] == {"style": "simple", "colour": "#0a7", "selector": None, "count": True}
    assert pinged["unread"] == 0
    started = ok(widget(client, "/widget/conversations", {**identify(app, "j"), "body": "Hi?"}))
    admin_says(client, auth, started["id"], "note", body="who is this")
    services.runner.catch_up()
    assert ok(widget(client, "/widget/ping", booted))["unread"] == 0  # a note is not for them
    admin_says(client, auth, started["id"], "comment", body="Hello John")
    services.runner.catch_up()
    assert ok(widget(client, "/widget/ping", booted))["unread"] == 1


def identify(app: CreatedApp, user_id: str, **extra: Any) -> Json:
    return {"app_id": app.app_id, "user_id": user_id, "email": None, "user_hash": None, **extra}


def test_the_user_reads_replies_and_writes_in_but_never_sees_notes_or_assignments(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    the_team(services, app.app_id)
    set_default_assignee(SetDefaultAssignee(app.app_id, "1"), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"})
    me = identify(app, "j")
    assert ok(widget(client, "/widget/inbox", me))["conversations"] == []

    started = ok(widget(client, "/widget/conversations", {**me, "body": "Export is *stuck*"}))
    assert started["conversation_message"]["author"] == {
        "type": "user",
        "id": started["user"]["id"],
    }
    assert "<em>stuck</em>" in started["conversation_message"]["body"]
    assert started["unread"] == 0
    settle(client.application)
    outbox = sorted(Path(services.config.outbox_dir).glob("*.eml"))
    mails = [email.message_from_bytes(f.read_bytes()) for f in outbox]
    assert [str(m["To"]) for m in mails] == ["ann@acme.io"]  # the team heard of it

    conversation_id = started["id"]
    admin_says(client, auth, conversation_id, "note", body="internal: worker restarted")
    admin_says(client, auth, conversation_id, "assignment", assignee_id="2", body="Bob, yours")
    admin_says(client, auth, conversation_id, "comment", body="Try again **now**")
    services.runner.catch_up()
    listed = ok(widget(client, "/widget/inbox", me))
    assert listed["unread"] == 1 and listed["total_count"] == 1
    (line,) = listed["conversations"]
    assert (line["id"], line["read"], line["snippet"]) == (
        conversation_id,
        False,
        "Try again **now**",
    )
    assert line["author"] == {"type": "admin", "id": "1", "name": "Ann Admin"}

    read = ok(widget(client, f"/widget/conversations/{conversation_id}/read", me))
    parts = read["conversation_parts"]["conversation_parts"]
    assert [(p["part_type"], p["author"]["type"]) for p in parts] == [("comment", "admin")]
    assert "<strong>now</strong>" in parts[0]["body"] and parts[0]["author"]["name"] == "Ann Admin"
    said = json.dumps(read)
    for secret in ("internal", "Bob, yours", "assignment", "ann@acme.io", "bob@acme.io"):
        assert secret not in said, secret
    assert "assignee" not in read and parts[0]["assigned_to"] is None
    assert read["unread"] == 0 and read["read"] is True

    replied = ok(
        widget(client, f"/widget/conversations/{conversation_id}/reply", {**me, "body": "Works!"})
    )
    assert [p["body"] for p in replied["conversation_parts"]["conversation_parts"]] == [
        "<p>Try again <strong>now</strong></p>",
        "<p>Works!</p>",
    ]
    team_view = client.get(f"/conversations/{conversation_id}", headers=auth).get_json()
    last = team_view["conversation_parts"]["conversation_parts"][-1]
    assert (last["author"]["type"], last["body"]) == ("user", "<p>Works!</p>")
    (line,) = ok(widget(client, "/widget/inbox", me))["conversations"]
    assert (line["snippet"], line["read"], line["author"]["type"]) == ("Works!", True, "user")


def test_a_message_from_the_team_is_listed_as_plain_text(
    client: FlaskClient, app: CreatedApp, services: Services, clock: ManualClock
) -> None:
    from commands.auto_messages import compose_auto_message

    the_team(services, app.app_id)
    compose_auto_message(
        ComposeAutoMessage(
            app_id=app.app_id,
            message_type="inbox",
            admin_id="1",
            subject=None,
            body="New: <b>PDF</b> &amp; CSV export for {{ first_name }}",
            markup="html",
            style=None,
            custom_keys=set(),
            audience={"all": []},
        ),
        services.store,
        services.clock,
    )
    ping(services, app.app_id, {"user_id": "m", "name": "Mia Wong"})  # it lands in her inbox
    services.runner.catch_up()
    (line,) = ok(widget(client, "/widget/inbox", identify(app, "m")))["conversations"]
    assert (line["snippet"], line["read"]) == ("New: PDF & CSV export for Mia", False)
    assert line["author"]["name"] == "Ann Admin"
    opened = ok(widget(client, f"/widget/conversations/{line['id']}/read", identify(app, "m")))
    assert opened["conversation_message"]["body"] == ("New: <b>PDF</b> &amp; CSV export for Mia")


def test_secure_mode_refuses_the_inbox_without_the_right_hash_and_reveals_nothing(
    client: FlaskClient, app: CreatedApp, services: Services, clock: ManualClock
) -> None:
    the_team(services, app.app_id)
    set_secure_mode(SetSecureMode(app.app_id, True), services.store, services.clock)
    signed = user_hash(app.secret, "s-1")
    user = ping(services, app.app_id, {"user_id": "s-1", "user_hash": signed}).user
    conversation = start_by_user(
        StartConversation(user.app_id, user.id.hex, "my secret question"), services.store, clock
    )
    reply(
        Reply(
            app.app_id,
            conversation.conversation_id,
            {"type": "admin", "id": "1"},
            "comment",
            body="the secret answer",
        ),
        services.store,
        clock,
    )
    services.runner.catch_up()
    head = services.store.head()
    cid = conversation.conversation_id
    paths = [
        ("/widget/inbox", {}),
        ("/widget/conversations", {"body": "let me in"}),
        (f"/widget/conversations/{cid}/read", {}),
        (f"/widget/conversations/{cid}/reply", {"body": "me too"}),
        (f"/widget/conversations/{'0' * 32}/read", {}),
    ]
    wrong = [None, "", user_hash(app.secret, "someone-else"), user_hash("guess", "s-1")]
    answers = set()
    for path, extra in paths:
        for given in wrong:
            for who in ("s-1", "nobody"):
                refused = widget(client, path, {**identify(app, who, user_hash=given), **extra})
                assert refused.status_code == 401, (path, given, refused.get_json())
                assert refused.get_json()["errors"][0]["code"] == "invalid_user_hash"
                answers.add(refused.get_data(as_text=True))
    assert len(answers) == 1  # the same answer whoever is asked about: nothing revealed
    assert "secret" not in answers.pop()
    # By email alone, the hash is of the email: the user_id's hash does not open it.
    by_email = widget(client, "/widget/inbox", {"app_id": app.app_id, "user_hash": signed})
    assert by_email.status_code == 400  # no identifier at all
    assert services.store.head() == head
    got = services.store.get_as(Conversation, UUID(hex=cid))
    assert got is not None and got.unread_by_user  # nobody read it on their behalf

    mine = ok(widget(client, "/widget/inbox", identify(app, "s-1", user_hash=signed.upper())))
    assert [c["snippet"] for c in mine["conversations"]] == ["the secret answer"]


def test_bad_input_is_refused_with_the_field_named_and_changes_nothing(
    client: FlaskClient, app: CreatedApp, services: Services, clock: ManualClock
) -> None:
    the_team(services, app.app_id)
    john = ping(services, app.app_id, {"user_id": "j"}).user
    ping(services, app.app_id, {"user_id": "k"})
    theirs = start_by_user(
        StartConversation(john.app_id, john.id.hex, "John's question"), services.store, clock
    ).conversation_id
    services.runner.catch_up()
    head = services.store.head()
    k = identify(app, "k")
    start, answer = "/widget/conversations", f"/widget/conversations/{theirs}/reply"
    cases: list[tuple[str, Any, int, str | None]] = [
        (start, "not json", 400, "body"),
        (start, ["a list"], 400, "body"),
        (start, k, 400, "body"),
        (start, {**k, "body": ""}, 400, "body"),
        (start, {**k, "body": "   "}, 400, "body"),
        (start, {**k, "body": "x" * (MAX_BODY + 1)}, 400, "body"),
        (start, {**k, "body": "nul \x00 here"}, 400, "body"),
        (start, {**k, "body": 42}, 400, "body"),
        (start, {"user_id": "k", "body": "hi"}, 400, "app_id"),
        (start, {**k, "user_id": ["k"], "body": "hi"}, 400, "user_id"),
        (start, {"app_id": app.app_id, "body": "hi"}, 400, None),
        (start, {**identify(app, "ghost"), "body": "hi"}, 404, None),
        (start, {**k, "app_id": "nosuchapp", "body": "hi"}, 404, None),
        ("/widget/inbox", {**k, "before": "yesterday"}, 400, "before"),
        (answer, {**k, "body": "not my conversation"}, 404, None),
        (f"/widget/conversations/{theirs}/read", k, 404, None),
        ("/widget/conversations/nope/read", k, 404, None),
        (f"/widget/conversations/{'0' * 32}/reply", {**k, "body": "hello?"}, 404, None),
        (answer, {**identify(app, "j"), "body": " \n "}, 400, "body"),
    ]
    for path, given, status, field in cases:
        refused = widget(client, path, given)
        assert refused.status_code == status, (path, given, refused.get_json())
        errors = refused.get_json()["errors"]
        if field is not None:
            assert errors[0]["field"] == field, (given, errors)
    assert services.store.head() == head
    with services.engine.connect() as conn:
        assert inbox(conn, Inbox(app_id=app.app_id)).total == 1


# --- in the browser -------------------------------------------------------------------------

# The browser half runs on the harness of tests/e2e/test_widget_browser.py (its fixtures too).
browser, site, open_tab = harness.browser, harness.site, harness.open_tab


@pytest.fixture
def live(tmp_path: Path, clock: ManualClock) -> Iterator[Parley]:
    """Parley as served: its projections kept current in the background, one teammate."""
    with served_parley(tmp_path, clock, live=True) as served:
        add_admin(
            AddAdmin(served.app_id, "ann@acme.io", "Ann Admin"),
            served.services.store,
            served.services.clock,
        )
        yield served


def answered_user(live: Parley, user_id: str) -> tuple[User, str]:
    """A user who wrote in and got a teammate's answer and a private note."""
    user = ping(live.services, live.app_id, {"user_id": user_id}).user
    store, clock = live.services.store, live.clock
    started = start_by_user(
        StartConversation(user.app_id, user.id.hex, "How do I export?"), store, clock
    )
    cid = started.conversation_id
    ann = {"type": "admin", "id": "1"}
    reply(Reply(live.app_id, cid, ann, "note", body="PRIVATE: he asked twice"), store, clock)
    reply(Reply(live.app_id, cid, ann, "comment", body="Use the *Export* button"), store, clock)
    live.services.runner.catch_up()
    return user, cid


def conversation(live: Parley, cid: str) -> Conversation:
    found = live.services.store.get_as(Conversation, UUID(hex=cid))
    assert found is not None
    return found


def user_page(live: Parley, site: CustomerSite, user_id: str, body: str = "") -> str:
    _, loader = snippet(live.app_id, live.url)
    settings = {"app_id": live.app_id, "user_id": user_id, "name": "Jo"}
    return site.publish(html(settings_block(settings), loader, body=body))


def badge(tab: Tab) -> str:
    shown: str = tab.js(
        "() => { const b = __pw('.parley-launcher .parley-badge');"
        " return b && b.style.display !== 'none' ? b.textContent : ''; }"
    )
    return shown


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.browser
def test_the_simple_inbox_shows_the_badge_opens_the_answer_and_takes_a_reply(
    live: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    set_inbox_style(
        SetInboxStyle(live.app_id, "simple", colour="#0a7"),
        live.services.store,
        live.services.clock,
    )
    _user, cid = answered_user(live, "u1")
    tab = open_tab()
    tab.open(user_page(live, site, "u1"))
    assert tab.ping(1)["body"]["unread"] == 1
    tab.page.wait_for_selector(".parley-launcher")
    assert (
        tab.js("() => getComputedStyle(__pw('.parley-launcher')).backgroundColor")
        == "rgb(0, 170, 119)"
    )
    assert tab.js("() => __pw('.parley-launcher').getBoundingClientRect().right") > tab.js(
        "() => innerWidth - 40"
    )
    assert badge(tab) == "1"

    tab.page.click(".parley-launcher")
    item = tab.page.locator(".parley-conversation.parley-unread-item")
    assert item.inner_text().startswith("Use the *Export* button")
    item.click()
    thread = tab.page.frame_locator(".parley-box .parley-thread")
    thread.locator(".part em", has_text="Export").wait_for()
    shown = thread.locator("body").inner_text()
    assert "How do I export?" in shown and "Use the Export button" in shown
    assert "PRIVATE" not in shown
    tab.page.wait_for_function("() => __pw('.parley-badge').style.display === 'none'")
    assert badge(tab) == ""
    assert not conversation(live, cid).unread_by_user

    typed = "<img src=x onerror=window.__owned=1> it worked, thanks"
    tab.page.fill(".parley-reply textarea", typed)
    tab.page.click(".parley-reply button[type=submit]")
    mine = tab.page.frame_locator(".parley-box .parley-thread").locator(".mine")
    mine.nth(1).wait_for()  # the opening line, then the reply
    assert tab.js("() => window.__owned === undefined")
    last = conversation(live, cid).parts[-1]
    assert (last["author"]["type"], last["body"]) == ("user", typed)
    live.clock.advance(minutes=1)
    reply(
        Reply(live.app_id, cid, {"type": "admin", "id": "1"}, "comment", body="Glad to hear it"),
        live.services.store,
        live.clock,
    )
    live.services.runner.catch_up()
    tab.js("() => Intercom('update')")
    assert tab.ping(2)["body"]["unread"] == 1
    tab.page.wait_for_function("() => __pw('.parley-badge').textContent === '1'")
    assert badge(tab) == "1"


@pytest.mark.browser
def test_a_new_message_from_the_box_and_show_hide_shutdown(
    live: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    set_inbox_style(SetInboxStyle(live.app_id, "simple"), live.services.store, live.services.clock)
    set_default_assignee(
        SetDefaultAssignee(live.app_id, "1"), live.services.store, live.services.clock
    )
    tab = open_tab()
    tab.open(user_page(live, site, "u2"))
    assert tab.ping(1)["body"]["unread"] == 0
    tab.page.wait_for_selector(".parley-launcher")
    assert badge(tab) == ""
    assert tab.js("() => __pw('.parley-box')") is None
    tab.js("() => Intercom('show')")
    tab.page.wait_for_selector(".parley-box .parley-empty")
    tab.js("() => Intercom('hide')")
    assert tab.js("() => __pw('.parley-box')") is None

    tab.js("() => Intercom('show')")
    tab.page.click(".parley-new")
    tab.page.fill(".parley-compose textarea", "Can I pay yearly?")
    tab.page.click(".parley-compose button[type=submit]")
    tab.page.wait_for_selector(".parley-content[data-conversation-id]")
    cid = tab.js("() => __pw('.parley-content').dataset.conversationId")
    started = conversation(live, cid)
    assert (started.body, started.assignee, started.author["type"]) == (
        "Can I pay yearly?",
        "1",
        "user",
    )
    assert started.user_key == user_id_key(live.app_id, "u2").hex
    tab.page.click(".parley-back")
    tab.page.wait_for_selector(f".parley-conversation[data-conversation-id='{cid}']")

    tab.js("() => Intercom('shutdown')")
    assert tab.js("() => __pwAll('.parley-box, .parley-launcher').length") == 0
    tab.js("() => Intercom('show')")  # nobody is booted: nothing to show
    assert tab.js("() => __pw('.parley-box')") is None


@pytest.mark.browser
def test_the_advanced_inbox_uses_the_pages_own_link_and_counts_unread(
    live: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    style = SetInboxStyle(live.app_id, "advanced", selector="#help, #help .ic")
    set_inbox_style(style, live.services.store, live.services.clock)
    answered_user(live, "u3")
    nav = (
        "<nav><a id='help' href='#'><i class='ic'>?</i> Help "
        "<span class='parley-unread'></span></a></nav>"
    )
    tab = open_tab()
    tab.open(user_page(live, site, "u3", body=nav))
    assert tab.ping(1)["body"]["inbox"]["style"] == "advanced"
    tab.page.wait_for_function("() => document.querySelector('#help').dataset.parleyUnread === '1'")
    assert tab.js("() => document.querySelector('#help .parley-unread').textContent") == "1"
    assert tab.js("() => __pw('.parley-launcher')") is None

    # The page re-renders its navigation: the new link is attached once reattached.
    tab.js(
        "() => { document.querySelector('nav').innerHTML ="
        " \"<a id='help' href='#'><i class='ic'>?</i> Help"
        " <span class='parley-unread'></span></a>\";"
        " Intercom('reattach_activator'); }"
    )
    assert tab.js("() => document.querySelector('#help').dataset.parleyUnread") == "1"
    tab.page.click("#help .ic")  # inside two matches at once: it opens (toggled once)
    tab.page.locator(".parley-conversation").click()
    tab.page.frame_locator(".parley-thread").locator(".part em", has_text="Export").wait_for()
    tab.page.wait_for_function("() => document.querySelector('#help').dataset.parleyUnread === '0'")
    assert tab.js("() => document.querySelector('#help .parley-unread').textContent") == ""
    assert tab.js("() => location.hash") == ""  # the link's own navigation was held back
    tab.page.click("#help")  # the activator toggles the box closed
    assert tab.js("() => __pw('.parley-box')") is None


@pytest.mark.browser
def test_an_emailed_attachment_is_a_download_link_in_the_box(
    live: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    from email.message import EmailMessage

    from commands.inbound import receive
    from commands.mime import Limits

    set_inbox_style(SetInboxStyle(live.app_id, "simple"), live.services.store, live.services.clock)
    ping(live.services, live.app_id, {"user_id": "u7", "email": "u7@example.org"})
    sent = EmailMessage()
    sent["From"] = "u7@example.org"
    sent["To"] = f"{live.app_id}@parley.localhost"
    sent["Subject"] = "Invoice"
    sent["Message-ID"] = "<invoice-1@example.org>"
    sent.set_content("Here is the invoice that looks wrong.")
    sent.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice <7>.pdf"
    )
    s = live.services
    limits = Limits(domain="parley.localhost", secret_key="test")
    receive(s.store, s.engine, s.clock, limits, live.app_id, bytes(sent))
    s.runner.catch_up()
    tab = open_tab()
    tab.open(user_page(live, site, "u7"))
    tab.ping(1)
    tab.page.click(".parley-launcher")
    tab.page.locator(".parley-conversation").first.click()
    link = tab.page.frame_locator(".parley-thread").locator("a.file")
    link.wait_for()
    assert link.inner_text().endswith("invoice <7>.pdf")  # shown as text, not markup
    href = link.get_attribute("href")
    assert href is not None and href.startswith(live.url + "/files/")
    fetched = tab.page.request.get(href)
    assert fetched.status == 200 and fetched.body() == b"%PDF-1.4 invoice"


def test_in_secure_mode_an_unsigned_email_takes_over_nobody(
    client: FlaskClient,
    auth: dict[str, str],
    app: CreatedApp,
    services: Services,
    clock: ManualClock,
) -> None:
    from commands.inbound import receive
    from commands.mime import Limits

    set_secure_mode(SetSecureMode(app.app_id, True), services.store, services.clock)
    made = post(client, "/users", auth, {"email": "ceo@acme.test", "name": "The CEO"})
    victim_key = made.get_json()["id"]
    victim = services.store.get_as(User, UUID(hex=victim_key))
    assert victim is not None
    start_by_user(
        StartConversation(victim.app_id, victim.id.hex, "the acquisition terms"),
        services.store,
        clock,
    )
    # A page whose settings someone edited: their own signed user_id, someone else's email.
    signed = user_hash(app.secret, "att")
    for address in ("ceo@acme.test", "cfo@acme.test"):  # adopting, then claiming in advance
        settings = {"user_id": "att", "email": address, "user_hash": signed}
        assert ping(services, app.app_id, settings).user.id.hex != victim_key
    services.runner.catch_up()
    mail = (
        f"From: cfo@acme.test\r\nTo: {app.app_id}@parley.localhost\r\nSubject: board\r\n"
        "Message-ID: <b1@acme.test>\r\n\r\nthe board minutes\r\n"
    ).encode()
    limits = Limits(domain="parley.localhost", secret_key="test")
    receive(services.store, services.engine, services.clock, limits, app.app_id, mail)
    services.runner.catch_up()
    me = identify(app, "att", user_hash=signed)
    assert ok(widget(client, "/widget/inbox", me))["conversations"] == []
    ceo = client.get("/users", query_string={"email": "ceo@acme.test"}, headers=auth).get_json()
    assert ceo["id"] == victim_key and ceo["user_id"] is None  # still the CEO's own record


BADGE_IS_ONE = (
    "() => { const b = __pw('.parley-badge'); return b !== null && b.textContent === '1'; }"
)


@pytest.mark.browser
def test_the_box_never_shows_a_previous_users_inbox_and_waits_for_a_new_users_ping(
    live: Parley, site: CustomerSite, open_tab: Callable[[], Tab]
) -> None:
    set_inbox_style(SetInboxStyle(live.app_id, "simple"), live.services.store, live.services.clock)
    answered_user(live, "u5")
    tab = open_tab()
    tab.open(user_page(live, site, "u5"))
    tab.ping(1)
    tab.page.wait_for_function(BADGE_IS_ONE)
    # A new user is booted and the box opened at once: it waits for their first ping.
    tab.page.evaluate(
        "app => { Intercom('boot', {app_id: app, user_id: 'fresh-9'}); Intercom('show'); }",
        live.app_id,
    )
    tab.page.wait_for_selector(".parley-box .parley-empty")
    assert "not found" not in tab.js("() => __pw('.parley-box').innerText")
    assert badge(tab) == ""
    # Booting someone the server refuses leaves nothing of the one before on the page.
    tab.page.evaluate("app => Intercom('boot', {app_id: app, user_id: 'u5'})", live.app_id)
    tab.page.wait_for_function(BADGE_IS_ONE)
    tab.page.evaluate(
        "app => Intercom('boot', {app_id: app, user_id: 'bad', created_at: 'soon'})", live.app_id
    )
    tab.ping(4)
    assert tab.js("() => __pwAll('.parley-box, .parley-launcher').length") == 0


def test_a_message_seen_as_a_pop_up_is_not_counted_unread(
    client: FlaskClient, app: CreatedApp, services: Services, clock: ManualClock
) -> None:
    from commands.auto_messages import compose_auto_message

    the_team(services, app.app_id)
    set_inbox_style(SetInboxStyle(app.app_id, "simple"), services.store, services.clock)
    for kind in ("conversation", "inbox"):
        compose_auto_message(
            ComposeAutoMessage(
                app_id=app.app_id,
                message_type=kind,
                admin_id="1",
                subject=None,
                body=f"Hello from the {kind} message",
                markup="markdown",
                style=None,
                custom_keys=set(),
                audience={"all": []},
            ),
            services.store,
            services.clock,
        )
    settings = {"app_id": app.app_id, "user": {"user_id": "v"}, "url": "https://a.test/"}
    (popped,) = ok(widget(client, "/widget/ping", settings))["messages"]
    services.runner.catch_up()
    assert ok(widget(client, "/widget/ping", settings))["unread"] == 2
    viewed = widget(client, "/widget/views", {**identify(app, "v"), "message_id": popped["id"]})
    assert viewed.status_code == 202
    services.runner.catch_up()
    # The pop-up was seen; the inbox message, which never pops up, is still unread.
    assert ok(widget(client, "/widget/ping", settings))["unread"] == 1
