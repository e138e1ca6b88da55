"""The dashboard's doors (issue 14): a teammate signs in with email and password, sees only
the apps they belong to, every form needs its CSRF token, failed sign-ins are limited, and the
user list shows the app's users, escaped, with the exact total."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from commands.accounts import SetPassword, set_password
from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from tests.helpers import basic, ping, settle
from web.bootstrap import Services

PASSWORD = "correct horse battery"


def teammate(services: Services, app_id: str, email: str = "ann@acme.io") -> None:
    add_admin(AddAdmin(app_id, email, "Ann Admin"), services.store, services.clock)
    set_password(SetPassword(email, PASSWORD), services.store, services.clock)


def token(client: FlaskClient, path: str = "/signin") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str, **more: str) -> Any:
    form = {"email": email, "password": password, "csrf_token": token(client), **more}
    return client.post("/signin", data=form)


def test_a_page_asked_for_signed_out_comes_back_after_signing_in(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    asked = f"/apps/{app.app_id}/users?sort=email&order=asc"
    went = client.get(asked)
    assert went.status_code == 302 and "/signin?next=" in went.headers["Location"]
    signed = sign_in(client, "ann@acme.io", PASSWORD, next=asked)
    assert signed.status_code == 302 and signed.headers["Location"] == asked
    page = client.get(asked)
    assert page.status_code == 200 and "Ann Admin" in page.get_data(as_text=True)
    for header in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert header in page.headers
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    wrong = sign_in(client, "ann@acme.io", "not the password")
    nobody = sign_in(client, "nobody@acme.io", PASSWORD)
    assert wrong.status_code == nobody.status_code == 401
    message = "That email and password do not match."
    assert message in wrong.get_data(as_text=True) and message in nobody.get_data(as_text=True)
    assert client.get(f"/apps/{app.app_id}/users").status_code == 302  # still signed out


def test_another_apps_pages_are_not_found(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "bob@other.io", "Bob"), services.store, services.clock)
    ping(services, other.app_id, {"user_id": "secret", "email": "secret@other.io"})
    sign_in(client, "ann@acme.io", PASSWORD)
    theirs = client.get(f"/apps/{other.app_id}/users")
    assert theirs.status_code == 404
    assert "secret@other.io" not in theirs.get_data(as_text=True)
    assert client.get("/apps/nosuchapp/users").status_code == 404


def test_a_form_posted_without_its_csrf_token_is_refused(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    refused = client.post("/signin", data={"email": "ann@acme.io", "password": PASSWORD})
    assert refused.status_code == 400
    assert client.get(f"/apps/{app.app_id}/users").status_code == 302
    sign_in(client, "ann@acme.io", PASSWORD)
    assert client.post("/signout").status_code == 302  # no token: nothing done
    assert client.get(f"/apps/{app.app_id}/users").status_code == 200
    forged = client.post(f"/apps/{app.app_id}/users/bulk", data={"action": "delete"})
    assert forged.status_code == 400  # signed in still: told the form was stale, not to sign in
    assert "Nothing was done" in forged.get_data(as_text=True)


def test_failed_sign_ins_are_limited_then_a_wait_is_given(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    for _ in range(10):
        assert sign_in(client, "ann@acme.io", "guess guess guess").status_code == 401
    limited = sign_in(client, "ann@acme.io", PASSWORD)  # even the right one, for now
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many attempts" in limited.get_data(as_text=True)


def test_an_office_behind_one_ip_signs_in_but_spraying_from_it_is_limited(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    for n in range(12):  # more than an address's 10, all from the test client's one IP
        teammate(services, app.app_id, f"mate{n}@acme.io")
        assert (
            sign_in(client.application.test_client(), f"mate{n}@acme.io", PASSWORD).status_code
            == 302
        )
    answers = [
        sign_in(client, f"nobody{n}@acme.io", "wrong password!").status_code for n in range(19)
    ]
    assert answers == [401] * 18 + [429]  # 30 attempts from the IP in a minute, then a wait


def test_a_new_password_ends_the_other_sessions(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    other = client.application.test_client()
    sign_in(client, "ann@acme.io", PASSWORD)
    sign_in(other, "ann@acme.io", PASSWORD)
    account_page = f"/apps/{app.app_id}/account"
    form = {
        "current": PASSWORD,
        "password": "a new long password",
        "again": "a new long password",
        "csrf_token": token(client, account_page),
    }
    changed = client.post(account_page, data=form)
    assert changed.status_code == 200 and "Your password is changed" in changed.get_data(True)
    assert client.get(f"/apps/{app.app_id}/users").status_code == 200
    assert other.get(f"/apps/{app.app_id}/users").status_code == 302
    assert sign_in(other, "ann@acme.io", PASSWORD).status_code == 401


def test_the_user_list_shows_every_user_escaped_with_the_total(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    for n in range(3):
        ping(services, app.app_id, {"user_id": f"u{n}", "name": f"<img src=x onerror=alert({n})>"})
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)
    page = client.get(f"/apps/{app.app_id}/users").get_data(as_text=True)
    assert "3 users in all" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(0)&gt;" in page
    bad = client.get(f"/apps/{app.app_id}/users", query_string={"filter": "{not json"})
    assert bad.status_code == 400 and "This list cannot be shown" in bad.get_data(as_text=True)


def test_odd_urls_and_stale_forms_get_pages_not_errors(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    sign_in(client, "ann@acme.io", PASSWORD)
    users = f"/apps/{app.app_id}/users"
    shared = client.get(users, query_string={"filter": "", "utm_source": "mail", "fbclid": "x"})
    assert shared.status_code == 200 and "in all" in shared.get_data(as_text=True)
    cut = client.get(users, query_string={"after": "garbage"})
    assert cut.status_code == 400 and "This list cannot be shown" in cut.get_data(as_text=True)
    missing = client.get("/apps/nosuchapp/users")
    assert missing.status_code == 404 and "This page does not exist" in missing.get_data(True)
    assert missing.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in missing.headers["Content-Security-Policy"]
    ended = client.application.test_client()
    stale = token(ended)
    expired = ended.post(
        "/signin", data={"email": "a@b.c", "password": "x", "csrf_token": stale[::-1]}
    )
    assert expired.status_code == 400
    assert "Please sign in again" in expired.get_data(as_text=True)


def test_attempts_sent_side_by_side_do_not_pass_the_limit(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    teammate(services, app.app_id)
    tokens = []
    clients = [client.application.test_client() for _ in range(16)]
    for each in clients:
        tokens.append(token(each))

    def guess(n: int) -> int:
        form = {"email": "ann@acme.io", "password": f"guess {n} guess", "csrf_token": tokens[n]}
        return int(clients[n].post("/signin", data=form).status_code)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(16)))
    # Never more than 10 passwords checked (fewer when attempts interleave between their two
    # counts, address and IP); every other attempt is refused with a wait.
    assert 1 <= answers.count(401) <= 10
    assert answers.count(401) + answers.count(429) == 16


def test_a_profile_shows_the_users_data_and_deep_links_reach_it(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    other = create_app(CreateApp("Other"), services.store, services.clock)
    ping(services, other.app_id, {"user_id": "theirs", "email": "theirs@other.io"})
    settings = {
        "user_id": "ada",
        "email": "ada@analytical.io",
        "name": "Ada <script>alert(1)</script>",
        "plan": "<b>pro</b>",
        "seats": 12,
    }
    saved = ping(services, app.app_id, settings)
    settle(client.application)
    sign_in(client, "ann@acme.io", PASSWORD)
    key = saved.user.id.hex
    page = client.get(f"/apps/{app.app_id}/users/{key}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "&lt;b&gt;pro&lt;/b&gt;" in text and "number" in text  # seats, with its type
    assert "ada@analytical.io" in text and "Sessions" in text
    listed = client.get(f"/apps/{app.app_id}/users").get_data(as_text=True)
    assert f"/apps/{app.app_id}/users/{key}" in listed
    by_email = client.get(
        f"/apps/{app.app_id}/users/show", query_string={"email": "ada@analytical.io"}
    )
    by_user_id = client.get(f"/apps/{app.app_id}/users/show", query_string={"user_id": "ada"})
    for went in (by_email, by_user_id):
        assert went.status_code == 302 and went.headers["Location"].endswith(f"/users/{key}")
    theirs = ping(services, other.app_id, {"user_id": "theirs"}).user.id.hex
    assert client.get(f"/apps/{app.app_id}/users/{theirs}").status_code == 404
    assert client.get(f"/apps/{app.app_id}/users/not-an-id").status_code == 404
    nobody = client.get(f"/apps/{app.app_id}/users/show", query_string={"email": "no@one.io"})
    assert nobody.status_code == 404


def test_unknown_dashboard_addresses_get_its_html_pages_with_its_headers(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    teammate(services, app.app_id)
    sign_in(client, "ann@acme.io", PASSWORD)
    for path, status in (
        (f"/apps/{app.app_id}/nope", 404),
        (f"/apps/{app.app_id}/settings/nope", 404),
        (f"/apps/{app.app_id}/tags/nope", 405),
    ):
        answer = client.get(path)
        assert answer.status_code == status and answer.mimetype == "text/html", path
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert client.get("/nope", headers=basic(app)).mimetype == "application/json"  # the API's
