"""Writing messages from the dashboard (issue 15): the composer opened from the user list or a
profile, its preview (the REST preview's own output), the audience's count, a test copy to the
teammate, sending (an email only once confirmed), errors beside their fields with nothing
saved, the list of messages with what each achieved, a message's recipients, editing and
stopping; another app's teammate meets 404 everywhere."""

from __future__ import annotations

import email
import html as html_lib
import json
import re
from dataclasses import replace
from email import policy
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from commands.delivery import DeliveryDeferred, deliver_email, email_composer
from commands.email import Sender
from commands.handling import handle
from commands.mail import MailRefused
from commands.manual_messages import ComposeManual, send_manual
from projections.message_list import MessageListProjection, message_list
from projections.message_recipients import MessageRecipientsProjection, message_recipients
from projections.rebuild import rebuild
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate, token
from tests.helpers import basic, ping, post, settle
from web.app import create_app as create_web_app
from web.bootstrap import Services

PRO = json.dumps({"attribute": "custom.plan", "operator": "is", "value": "pro"})


def people(services: Services, app_id: str) -> dict[str, str]:
    keys = {}
    for user_id, name, plan, address in (
        ("ann", "Ann Lee", "pro", "ann@example.com"),
        ("bob", "", "pro", "bob@example.com"),
        ("cyd", "Cyd Sharp", "pro", None),
        ("dan", "Dan Free", "free", "dan@example.com"),
    ):
        settings: dict[str, Any] = {"user_id": user_id, "plan": plan}
        if name:
            settings["name"] = name
        if address:
            settings["email"] = address
        keys[user_id] = ping(services, app_id, settings).user.id.hex
    services.runner.catch_up()
    return keys


def signed_in(client: FlaskClient, services: Services, app: CreatedApp) -> str:
    teammate(services, app.app_id)
    sign_in(client, "ann@acme.io", PASSWORD)
    return token(client, f"/apps/{app.app_id}/users")


def compose(client: FlaskClient, app_id: str, csrf: str, **fields: Any) -> Any:
    form = {"csrf_token": csrf, "opened": "1", "markup": "markdown", **fields}
    return client.post(f"/apps/{app_id}/messages/new", data=form)


def error_of(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="error-{name}"[^>]*>([^<]*)</p>', page)
    assert found, f"no error box for {name}"
    return html_lib.unescape(found.group(1))


def outbox(tmp_path: Path) -> list[email.message.EmailMessage]:
    folder = tmp_path / "outbox"
    found = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in found]


def test_an_email_to_a_filtered_list_is_previewed_confirmed_sent_and_listed(
    client: FlaskClient, services: Services, app: CreatedApp, tmp_path: Path
) -> None:
    keys = people(services, app.app_id)
    csrf = signed_in(client, services, app)
    users = client.get(f"/apps/{app.app_id}/users", query_string={"filter": PRO}).get_data(
        as_text=True
    )
    assert "Manual Message" in users and "Auto Message" in users
    # The list's bulk form opens the composer for all matching users.
    opened = client.post(
        f"/apps/{app.app_id}/messages/new",
        data={"csrf_token": csrf, "scope": "all", "filter": PRO, "kind": "manual"},
    ).get_data(as_text=True)
    assert "Everyone matching <bdi>plan is “pro”</bdi>" in opened
    assert "first_name" in opened and "plan" in opened  # Insert data: standard and custom
    mail = {
        "scope": "all",
        "filter": PRO,
        "message_type": "email",
        "subject": 'Hi {{ first_name | fallback:"there" }}',
        "body": 'Hey {{ first_name | fallback:"there" }}, **news**.',
        "template": "personal",
    }
    # Two of the three pro users have an address; the third is said to be left out.
    drafted = compose(client, app.app_id, csrf, **mail, do="preview").get_data(as_text=True)
    assert "This will reach <strong>2 users</strong>" in drafted
    assert "1 of the 3 matching has no email address or unsubscribed" in drafted
    # The htmx preview: exactly what POST /messages/preview makes, as Ann Lee and as nobody.
    fragment = client.post(
        f"/apps/{app.app_id}/messages/new",
        data={"csrf_token": csrf, "opened": "1", **mail, "do": "preview", "preview_as": "ann@"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    api_preview = post(
        client,
        "/messages/preview",
        basic(app),
        {
            **{k: mail[k] for k in ("message_type", "subject", "body", "template")},
            "from": {"type": "admin", "id": "1"},
            "to": {"type": "user", "user_id": "ann"},
        },
    ).get_json()
    assert "As <bdi>Ann Lee</bdi> would see it" in fragment
    text_part = re.search(r'<pre class="email-text" tabindex="0">(.*?)</pre>', fragment, re.S)
    assert text_part and html_lib.unescape(text_part.group(1)) == api_preview["text"]
    assert "Hey Ann, news." in api_preview["text"]
    assert 'sandbox=""' in fragment and "Hey Ann, &lt;strong&gt;news&lt;/strong&gt;" in fragment
    assert 'id="error-body" hx-swap-oob="true"' in fragment
    # The count follows the type: an email reaches only those with an address.
    assert 'id="reach" hx-swap-oob="true">This will reach <strong>2 users</strong>' in fragment
    # Sending an email asks first; nothing is saved before the confirmation.
    head = services.store.head()
    asked = compose(client, app.app_id, csrf, **mail, do="send").get_data(as_text=True)
    assert "Send this email now?" in asked and "cannot be edited or stopped" in asked
    assert services.store.head() == head
    sent = compose(client, app.app_id, csrf, **mail, do="confirm")
    assert sent.status_code == 302
    settle(client.application)
    delivered = outbox(tmp_path)
    assert sorted(str(m["To"]) for m in delivered) == ["ann@example.com", "bob@example.com"]
    bob = next(m for m in delivered if str(m["To"]) == "bob@example.com")
    text = bob.get_body(("plain",))
    assert text is not None and "Hey there, news." in text.get_content()
    assert "Unsubscribe:" not in text.get_content()  # the box was left unticked
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "This email was sent: an email, once sent, cannot be edited or stopped" in page
    assert "<dt>Emails sent</dt><dd>2</dd>" in page
    assert page.count('data-state="sent"') == 2 and "Bob" not in page.split("Recipients")[0]
    listed = client.get(f"/apps/{app.app_id}/messages").get_data(as_text=True)
    assert "Hi there" in listed and "Everyone matching plan is “pro”" in listed
    assert ">Sent<" in listed and "Ann Admin" in listed
    assert client.get(f"/apps/{app.app_id}/users/{keys['ann']}").status_code == 200


def test_each_error_shows_beside_its_field_and_nothing_is_saved(
    client: FlaskClient, services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    keys = people(services, app.app_id)
    csrf = signed_in(client, services, app)
    head = services.store.head()
    to_ann = {"ids": keys["ann"], "scope": "selected"}
    auto = {"kind": "auto", "filter": PRO, "message_type": "conversation", "body": "Hi"}
    yesterday = (clock.now().date().fromordinal(clock.now().date().toordinal() - 1)).isoformat()
    cases = [
        ({**to_ann, "message_type": "conversation", "body": "Hi {{ shoe_size }}"}, "body"),
        ({**to_ann, "message_type": "conversation", "body": "Hi {{ first_name"}, "body"),
        ({**to_ann, "message_type": "email", "body": "Hi", "subject": ""}, "subject"),
        ({**auto, "url": "billing page"}, "url"),
        ({**auto, "stop_at": yesterday}, "stop_at"),
        ({**auto, "filter": ""}, "audience"),
        ({"scope": "selected", "message_type": "conversation", "body": "Hi"}, "audience"),
    ]
    for fields, name in cases:
        for do in ("send", "test", "confirm"):
            answer = compose(client, app.app_id, csrf, **fields, do=do)
            assert answer.status_code == 400, (fields, do)
            assert error_of(answer.get_data(as_text=True), name), (fields, name)
    page = compose(client, app.app_id, csrf, **cases[0][0], do="send").get_data(as_text=True)
    assert "unknown variable 'shoe_size'" in error_of(page, "body")
    assert 'aria-invalid="true" aria-describedby="error-body"' in page
    assert "unbalanced" in error_of(
        compose(client, app.app_id, csrf, **cases[1][0], do="send").get_data(as_text=True), "body"
    )
    assert services.store.head() == head  # nothing saved, nothing sent
    # The REST API refuses the same conditions, naming the same fields.
    for bad, field in (({"url": "billing page"}, "url"), ({"stop_at": 1}, "stop_at")):
        body = {
            "message_type": "conversation",
            "body": "Hi",
            "from": {"type": "admin", "id": "1"},
            "filter": json.loads(PRO),
            **bad,
        }
        refused = post(client, "/auto_messages", basic(app), body)
        assert refused.status_code in (400, 422)
        assert refused.get_json()["errors"][0]["field"] == field


def test_a_test_copy_goes_to_the_teammate_and_nothing_is_saved(
    client: FlaskClient, services: Services, app: CreatedApp, tmp_path: Path
) -> None:
    keys = people(services, app.app_id)
    csrf = signed_in(client, services, app)
    head = services.store.head()
    mail = {"ids": keys["ann"], "message_type": "email", "subject": "Hello {{ first_name }}"}
    mail |= {"body": "Dear {{ name }}", "template": "official", "preview_as": "ann@example.com"}
    answer = compose(client, app.app_id, csrf, **mail, do="test").get_data(as_text=True)
    assert "A test copy went to ann@acme.io" in answer
    popup = {"ids": keys["ann"], "message_type": "notification", "body": "New: **exports**"}
    answer = compose(client, app.app_id, csrf, **popup, do="test").get_data(as_text=True)
    shows = "in the app it shows a small popup in the top-right corner"
    assert f"Its words went to ann@acme.io by email; {shows}" in answer
    assert services.store.head() == head
    first, second = outbox(tmp_path)
    assert {str(first["To"]), str(second["To"])} == {"ann@acme.io"}
    by_subject = {str(m["Subject"]): m for m in (first, second)}
    emailed = by_subject["[Test] Hello Ann"].get_body(("plain",))
    assert emailed is not None and "Dear Ann Lee" in emailed.get_content()
    words = by_subject["[Test] Notification: an in-app message"].get_body(("plain",))
    assert words is not None and "New: exports" in words.get_content()


def test_an_auto_message_is_edited_with_its_versions_kept_then_stopped(
    client: FlaskClient, services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    people(services, app.app_id)
    csrf = signed_in(client, services, app)
    opened = client.get(
        f"/apps/{app.app_id}/messages/new", query_string={"kind": "auto", "filter": PRO}
    ).get_data(as_text=True)
    assert "Conditions" in opened and "plan is “pro”" in opened
    assert "This will reach <strong>3 users</strong> now, and each new one who matches" in opened
    auto = {"kind": "auto", "filter": PRO, "message_type": "announcement", "body": "Version one"}
    started = compose(client, app.app_id, csrf, **auto, url="https://app.io/billing*", do="send")
    assert started.status_code == 302
    page_url = started.headers["Location"]
    message_id = page_url.rsplit("/", 1)[1]
    edit_url = f"/apps/{app.app_id}/messages/{message_id}/edit"
    refused = client.post(edit_url, data={"csrf_token": csrf, "body": "{{ nope }}"})
    assert refused.status_code == 400
    assert "unknown variable" in error_of(refused.get_data(as_text=True), "body")
    clock.advance(hours=1)
    form = {"csrf_token": csrf, "body": "Version *two*", "markup": "markdown", "subject": ""}
    # The edit page previews the new version in place, saving nothing.
    head = services.store.head()
    shown = client.post(
        edit_url, data={**form, "do": "preview"}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert '<div class="message-body"><p>Version <em>two</em></p></div>' in shown
    bad = client.post(
        edit_url, data={**form, "body": "{{ nope", "do": "preview"}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "unbalanced" in error_of(bad, "body") and services.store.head() == head
    assert client.post(edit_url, data=form).status_code == 302
    page = client.get(page_url).get_data(as_text=True)
    assert "Version <em>two</em>" in page and "Earlier versions" in page
    assert re.search(r"Written \d\d \w+ \d{4}, \d\d:\d\d UTC.*Version one", page, re.S)
    assert "plan is “pro”" in page and "Conditions cannot be changed" in page
    assert "only on <code>https://app.io/billing*</code>" in page
    stop_url = f"/apps/{app.app_id}/messages/{message_id}/stop"
    asked = client.get(stop_url).get_data(as_text=True)
    assert "Stop this message?" in asked
    assert client.post(stop_url, data={"csrf_token": csrf}).status_code == 302
    page = client.get(page_url).get_data(as_text=True)
    assert ">Stopped<" in page and "Edit content" not in page
    services.runner.catch_up()
    listed = client.get(f"/apps/{app.app_id}/messages").get_data(as_text=True)
    assert "Version two" in listed and ">Stopped<" in listed


def test_an_in_app_message_from_a_profile_reaches_the_user_and_the_list_counts_it(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    keys = people(services, app.app_id)
    csrf = signed_in(client, services, app)
    profile = client.get(f"/apps/{app.app_id}/users/{keys['ann']}").get_data(as_text=True)
    link = re.search(r'href="([^"]*/messages/new\?[^"]*)"', profile)
    assert link, "no Message button on the profile"
    opened = client.get(html_lib.unescape(link.group(1))).get_data(as_text=True)
    assert "1 chosen user: <bdi>ann@example.com</bdi>" in opened
    sent = compose(
        client,
        app.app_id,
        csrf,
        ids=keys["ann"],
        message_type="conversation",
        body="Psst",
        do="send",
    )
    assert sent.status_code == 302
    seen = client.post(
        "/widget/ping",
        json={"app_id": app.app_id, "user": {"user_id": "ann"}, "url": "https://a.io/"},
    ).get_json()
    assert [m["body"] for m in seen["messages"]] == ["<p>Psst</p>"]
    services.runner.catch_up()
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert 'data-state="delivered"' in page and "Ann Lee" in page
    assert re.search(rf'href="/apps/{app.app_id}/inbox/[0-9a-f]{{32}}">Conversation</a>', page)
    listed = client.get(f"/apps/{app.app_id}/messages").get_data(as_text=True)
    assert "<bdi>Ann Lee</bdi>" in listed and "Psst" in listed


def test_the_list_and_the_recipients_are_rebuilt_from_the_log_alike(
    services: Services, app: CreatedApp
) -> None:
    keys = people(services, app.app_id)
    fields: dict[str, Any] = {"app_id": app.app_id, "admin_id": "1", "subject": None}
    fields |= {"markup": "markdown", "style": None, "custom_keys": set()}
    for n, user in enumerate(("ann", "bob")):
        one = ComposeManual(
            **fields, message_type="conversation", body=f"Hi {n}", recipients=[keys[user]]
        )
        handle(send_manual, replace(one, at_once=True), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "ann"})  # shows Ann hers
    services.runner.catch_up()
    tables = (message_list, message_recipients)

    def rows() -> list[list[tuple[Any, ...]]]:
        with services.engine.connect() as conn:
            return [sorted(tuple(r) for r in conn.execute(t.select()).all()) for t in tables]

    before = rows()
    assert len(before[0]) == 2 and {r[3] for r in before[1]} == {"delivered", "waiting"}
    for projection in (MessageListProjection(), MessageRecipientsProjection()):
        rebuild(services.store, services.runner.engine, projection, processes=1)
    assert rows() == before


def test_another_apps_teammate_gets_404_on_every_message_page(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    keys = people(services, app.app_id)
    csrf = signed_in(client, services, app)
    sent = compose(
        client, app.app_id, csrf, ids=keys["ann"], message_type="inbox", body="Hi", do="send"
    )
    message_id = sent.headers["Location"].rsplit("/", 1)[1]
    other = create_app(CreateApp("Other"), services.store, services.clock)
    client.post("/signout", data={"csrf_token": csrf})
    teammate(services, other.app_id, "zed@other.io")
    sign_in(client, "zed@other.io", PASSWORD)
    theirs = token(client, f"/apps/{other.app_id}/users")
    base = f"/apps/{app.app_id}/messages"
    for url in (
        base,
        f"{base}/new",
        f"{base}/{message_id}",
        f"{base}/{message_id}/edit",
        f"{base}/{message_id}/stop",
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, data={"csrf_token": theirs}).status_code in (404, 405), url
    # Their own app's address for the other app's message is not found either.
    mine = f"/apps/{other.app_id}/messages/{message_id}"
    for url in (mine, f"{mine}/edit", f"{mine}/stop"):
        assert client.get(url).status_code == 404, url


def test_without_javascript_insert_data_writes_at_the_end_and_the_unsubscribe_box_decides(
    client: FlaskClient, services: Services, app: CreatedApp, tmp_path: Path
) -> None:
    keys = people(services, app.app_id)
    csrf = signed_in(client, services, app)
    chosen = {"ids": [keys["ann"], keys["bob"]], "message_type": "email", "subject": "News"}
    written = compose(
        client,
        app.app_id,
        csrf,
        **chosen,
        body="Hello",
        variable="first_name",
        fallback='the "team"',
        do="insert",
    ).get_data(as_text=True)
    assert "Hello {{ first_name | fallback:&#34;the team&#34; }}</textarea>" in written
    # Chosen users get no unsubscribe link unless the box is ticked: here it is.
    opened = client.post(
        f"/apps/{app.app_id}/messages/new", data={"csrf_token": csrf, **chosen}
    ).get_data(as_text=True)
    assert 'name="unsubscribe_link">' in opened  # unticked for chosen users at first
    body = {**chosen, "body": "Hello", "unsubscribe_link": "on", "template": "official"}
    assert compose(client, app.app_id, csrf, **body, do="confirm").status_code == 302
    settle(client.application)
    sent = outbox(tmp_path)
    assert len(sent) == 2
    for mail in sent:
        text = mail.get_body(("plain",))
        assert text is not None and "Unsubscribe: http" in text.get_content()
        assert mail["List-Unsubscribe"]


class Refusing:
    """A mail server that answers 451 to every recipient."""

    def send(self, message: Any) -> None:
        raise MailRefused("451 try again later")


class CutOff:
    """A connection lost mid-send: nobody knows whether the email went."""

    def send(self, message: Any) -> None:
        raise ConnectionResetError("connection lost")


def test_a_recipient_deferred_by_the_server_or_cut_off_mid_send_says_so(
    services: Services, app: CreatedApp
) -> None:
    keys = people(services, app.app_id)
    web = create_web_app(services=services, follow=False)  # no reactions: sends by hand
    client = web.test_client()
    try:
        signed_in(client, services, app)
        fields: dict[str, Any] = {"app_id": app.app_id, "admin_id": "1", "subject": "News"}
        fields |= {"body": "Hi", "markup": "markdown", "style": "personal", "custom_keys": set()}
        cmd = ComposeManual(**fields, message_type="email", recipients=[keys["ann"], keys["bob"]])
        message = handle(send_manual, cmd, services.store, services.clock)
        compose = email_composer(
            services.store, services.config.mailing, lambda _m: Sender("Ann", "ann@acme.io")
        )

        def send(user: str, transport: Any) -> str:
            return deliver_email(
                message.message_id,
                user,
                bulk=False,
                store=services.store,
                clock=services.clock,
                transport=transport,
                compose=compose,
            )

        with pytest.raises(DeliveryDeferred):
            send(keys["ann"], Refusing())
        with pytest.raises(ConnectionResetError):
            send(keys["bob"], CutOff())
        again = send(keys["bob"], CutOff())
        assert again == "uncertain"
        services.runner.catch_up()
        page = client.get(f"/apps/{app.app_id}/messages/{message.message_id}").get_data(
            as_text=True
        )
        rows = {
            re.sub(r"<[^>]+>", " ", row).split()[0]: " ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r"<tr>(.*?)</tr>", page.split('id="recipients-title"')[1], re.S)[
                1:
            ]
        }
        assert "Deferred the mail server said: 451 try again later (1 attempt)" in rows["Ann"]
        assert "Uncertain cut off while sending; never sent twice" in rows["bob@example.com"]
    finally:
        web.extensions["parley_jobs"].stop()


def test_the_list_pages_newest_first_and_names_a_lone_recipient(
    client: FlaskClient, services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    keys = people(services, app.app_id)
    signed_in(client, services, app)
    fields: dict[str, Any] = {"app_id": app.app_id, "admin_id": "1", "subject": None}
    fields |= {"markup": "markdown", "style": None, "custom_keys": set()}
    for n in range(32):
        cmd = ComposeManual(
            **fields, message_type="inbox", body=f"Number {n}", recipients=[keys["ann"]]
        )
        handle(send_manual, cmd, services.store, clock)
        clock.advance(seconds=1)
    services.runner.catch_up()
    first = client.get(f"/apps/{app.app_id}/messages").get_data(as_text=True)
    titles = re.findall(r'<a href="[^"]+/messages/[0-9a-f]{32}"><bdi>([^<]+)</bdi>', first)
    assert titles == [f"Number {n}" for n in range(31, 1, -1)]  # 30, newest first
    assert first.count("<bdi>Ann Lee</bdi>") == 30
    older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', first)
    assert older
    second = client.get(html_lib.unescape(older.group(1))).get_data(as_text=True)
    titles = re.findall(r'<a href="[^"]+/messages/[0-9a-f]{32}"><bdi>([^<]+)</bdi>', second)
    assert titles == ["Number 1", "Number 0"] and 'rel="next"' not in second
    assert client.get(f"/apps/{app.app_id}/messages?before=nonsense").status_code == 404
    autos = client.get(f"/apps/{app.app_id}/messages?kind=auto").get_data(as_text=True)
    assert "No auto messages yet" in autos and 'aria-current="page">Auto</a>' in autos
    manual = client.get(f"/apps/{app.app_id}/messages?kind=manual").get_data(as_text=True)
    assert manual.count("<bdi>Ann Lee</bdi>") == 30 and "kind=manual&amp;before=" in manual


def test_ticked_users_are_the_audience_and_another_apps_ids_are_left_out(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    keys = people(services, app.app_id)
    other = create_app(CreateApp("Other"), services.store, services.clock)
    stranger = ping(services, other.app_id, {"user_id": "eve"}).user.id.hex
    csrf = signed_in(client, services, app)
    ticked = {"scope": "selected", "ids": [keys["ann"], keys["dan"], stranger], "kind": "manual"}
    opened = client.post(
        f"/apps/{app.app_id}/messages/new", data={"csrf_token": csrf, **ticked}
    ).get_data(as_text=True)
    assert "2 chosen users" in opened and "This will reach <strong>2 users</strong>" in opened
    assert stranger not in opened
    none = client.post(
        f"/apps/{app.app_id}/messages/new", data={"csrf_token": csrf, "scope": "selected"}
    ).get_data(as_text=True)
    assert "tick the users to message first" in error_of(none, "audience")
    assert "Back to the user list" in none
    sent = compose(client, app.app_id, csrf, **ticked, message_type="inbox", body="Hi", do="send")
    assert sent.status_code == 302
    services.runner.catch_up()
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "2 chosen users" in page
