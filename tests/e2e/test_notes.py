"""Notes on users (issue 17, point 1): `POST /notes`, `GET /notes/{id}` and `GET /notes?…` in
Intercom 1.x's shape, as its clients send them; refused notes store nothing; another app's are
not found; the profile shows them and adds one as the signed-in teammate; the activity says
who wrote one; a rebuild and the app's event export keep them."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from domain.content import ATTRIBUTES, TAGS
from domain.errors import InvalidValue
from domain.notes import note_html
from projections.notes import NotesProjection
from projections.rebuild import rebuild
from projections.tables import notes
from tests.e2e import test_widget_browser as harness
from tests.e2e.test_cli import run
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate, token
from tests.e2e.test_dashboard_activity import lines
from tests.e2e.test_dashboard_browser import sign_in_page
from tests.e2e.test_widget_browser import TIMEOUT_MS, served_parley
from tests.helpers import basic, ping, post
from web.bootstrap import Services

browser = harness.browser


def ada(client: FlaskClient, auth: dict[str, str]) -> str:
    """The user notes are written on; her Parley id."""
    made = post(client, "/users", auth, {"user_id": "ada", "email": "ada@x.io", "name": "Ada"})
    assert made.status_code == 200, made.get_json()
    return str(made.get_json()["id"])


def note(client: FlaskClient, auth: dict[str, str], **given: Any) -> dict[str, Any]:
    answer = post(client, "/notes", auth, given)
    assert answer.status_code == 200, answer.get_json()
    found: dict[str, Any] = answer.get_json()
    return found


def rows(services: Services) -> list[dict[str, Any]]:
    services.runner.catch_up()
    with services.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(notes).order_by(notes.c.id)).mappings()]


def test_a_note_names_its_user_every_way_intercom_clients_do(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    teammate(services, app.app_id)  # Ann Admin, admin "1"
    key = ada(client, auth)
    written = note(
        client, auth, body="<p>Called about <b>SSO</b></p>", admin_id="1", user={"user_id": "ada"}
    )
    assert written == {
        "type": "note",
        "id": written["id"],
        "created_at": int(services.clock.now().timestamp()),
        "body": "<p>Called about <b>SSO</b></p>",
        "user": {"type": "user", "id": key},
        "author": {"type": "admin", "id": "1", "name": "Ann Admin", "email": "ann@acme.io"},
    }
    assert client.get(f"/notes/{written['id']}", headers=auth).get_json() == written
    # The API's own nested forms, and python-intercom 2.1's flat ones; an admin id as a number.
    for ref in (
        {"user": {"email": "ada@x.io"}},
        {"user": {"id": key}},
        {"email": "ada@x.io"},
        {"user_id": "ada"},
        {"id": key},
    ):
        shown = note(client, auth, body="Wants annual billing", admin_id=1, **ref)
        assert shown["user"] == {"type": "user", "id": key}, ref
        assert shown["body"] == "<p>Wants annual billing</p>" and shown["author"]["id"] == "1"
    anonymous = note(client, auth, body="Imported from the CRM", email="ada@x.io")
    assert anonymous["author"] is None
    assert len(rows(services)) == 7


def test_a_users_notes_list_newest_first_in_pages_that_link_to_the_next(
    client: FlaskClient, services: Services, clock: ManualClock, auth: dict[str, str]
) -> None:
    key = ada(client, auth)
    for n in range(5):
        note(client, auth, body=f"note {n}", user_id="ada")
        if n != 2:  # notes 2 and 3 are written in the same second: still in order
            clock.advance(seconds=30)
    listed = client.get("/notes?user_id=ada&per_page=2", headers=auth).get_json()
    assert listed["type"] == "note.list" and listed["total_count"] == 5
    assert [n["body"] for n in listed["notes"]] == ["<p>note 4</p>", "<p>note 3</p>"]
    pages = listed["pages"]
    assert (pages["page"], pages["per_page"], pages["total_pages"]) == (1, 2, 3)
    assert pages["next"].startswith("http://localhost/notes?")
    assert "user_id=ada" in pages["next"] and "page=2" in pages["next"]
    second = client.get(pages["next"], headers=auth).get_json()
    assert [n["body"] for n in second["notes"]] == ["<p>note 2</p>", "<p>note 1</p>"]
    last = client.get(second["pages"]["next"], headers=auth).get_json()
    assert [n["body"] for n in last["notes"]] == ["<p>note 0</p>"]
    assert last["pages"]["next"] is None
    by_email = client.get("/notes?email=ada@x.io", headers=auth).get_json()
    by_id = client.get(f"/notes?id={key}", headers=auth).get_json()
    assert by_email["notes"] == by_id["notes"] and len(by_id["notes"]) == 5
    assert by_id["notes"][0]["body"] == "<p>note 4</p>" and by_id["pages"]["next"] is None


def errors(answer: Any) -> list[tuple[str, str | None]]:
    found = answer.get_json()
    assert found["type"] == "error.list", found
    return [(e["code"], e.get("field")) for e in found["errors"]]


@pytest.mark.parametrize(
    ("given", "status", "expected"),
    [
        ({"user_id": "ada"}, 400, [("parameter_invalid", "body")]),
        ({"body": "", "user_id": "ada"}, 400, [("parameter_invalid", "body")]),
        ({"body": "  \n ", "user_id": "ada"}, 400, [("parameter_invalid", "body")]),
        (
            {"body": "<script>alert(1)</script>", "user_id": "ada"},
            400,
            [("parameter_invalid", "body")],
        ),
        ({"body": "x" * 100_001, "user_id": "ada"}, 400, [("parameter_invalid", "body")]),
        ({"body": 42, "user_id": "ada"}, 400, [("parameter_invalid", "body")]),
        ({"body": "hi"}, 400, [("parameter_invalid", "user")]),
        ({"body": "hi", "user": {}}, 400, [("parameter_invalid", "user")]),
        ({"body": "hi", "user": "ada"}, 400, [("parameter_invalid", "user")]),
        ({"body": "hi", "user_id": "nobody"}, 404, [("not_found", None)]),
        ({"body": "hi", "user": {"email": "no@x.io"}}, 404, [("not_found", None)]),
        ({"body": "hi", "id": "not-an-id"}, 404, [("not_found", None)]),
        (
            {"body": "hi", "user_id": "ada", "admin_id": "99"},
            400,
            [("parameter_invalid", "admin_id")],
        ),
        (
            {"body": "hi", "user_id": "ada", "admin_id": True},
            400,
            [("parameter_invalid", "admin_id")],
        ),
        ({"body": "hi", "user_id": "ada", "colour": "red"}, 400, [("parameter_invalid", "colour")]),
    ],
)
def test_a_refused_note_says_why_and_stores_nothing(
    client: FlaskClient,
    services: Services,
    auth: dict[str, str],
    given: dict[str, Any],
    status: int,
    expected: list[tuple[str, str | None]],
) -> None:
    ada(client, auth)
    head = services.store.head()
    answer = post(client, "/notes", auth, given)
    assert answer.status_code == status and errors(answer) == expected
    assert services.store.head() == head and rows(services) == []


def test_bodies_that_are_not_a_json_object_and_lists_without_a_user_are_refused(
    client: FlaskClient, services: Services, auth: dict[str, str]
) -> None:
    ada(client, auth)
    head = services.store.head()
    for raw in ("[1, 2]", '"a note"', "{not json", ""):
        answer = client.post(
            "/notes", data=raw, headers={**auth, "Content-Type": "application/json"}
        )
        assert answer.status_code == 400 and errors(answer) == [("parameter_invalid", "body")], raw
    nul = post(client, "/notes", auth, {"body": "a\x00b", "user_id": "ada"})
    assert nul.status_code == 400 and errors(nul) == [("parameter_invalid", "body")]
    assert services.store.head() == head
    missing = client.get("/notes", headers=auth)
    assert missing.status_code == 400 and errors(missing) == [("parameter_invalid", "user_id")]
    assert errors(client.get("/notes?user_id=nobody", headers=auth)) == [("not_found", None)]
    assert errors(client.get("/notes?user_id=ada&per_page=0", headers=auth)) == [
        ("parameter_invalid", "per_page")
    ]
    assert client.get("/notes/nothing-here", headers=auth).status_code == 404
    assert client.get("/notes", headers={}).status_code == 401


def test_another_apps_notes_and_users_are_not_found(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    key = ada(client, auth)
    written = note(client, auth, body="Ours", user_id="ada")
    other = basic(create_app(CreateApp("Other"), services.store, services.clock))
    theirs = client.get(f"/notes/{written['id']}", headers=other)
    assert theirs.status_code == 404 and errors(theirs) == [("not_found", None)]
    assert client.get(f"/notes?id={key}", headers=other).status_code == 404
    head = services.store.head()
    assert post(client, "/notes", other, {"body": "Theirs", "id": key}).status_code == 404
    assert services.store.head() == head
    assert client.get(f"/notes/{written['id']}", headers=auth).status_code == 200


def profile_of(client: FlaskClient, app: CreatedApp, key: str, **query: Any) -> str:
    shown = client.get(f"/apps/{app.app_id}/users/{key}", query_string=query or None)
    assert shown.status_code == 200
    return shown.get_data(as_text=True)


def notes_card(page: str) -> str:
    found = re.search(r'<section class="card notes-card" id="notes".*?</section>', page, re.S)
    assert found, page
    return found.group(0)


def test_the_profile_shows_the_notes_and_adds_one_as_the_signed_in_teammate(
    client: FlaskClient,
    services: Services,
    app: CreatedApp,
    clock: ManualClock,
    auth: dict[str, str],
) -> None:
    teammate(services, app.app_id)
    key = ada(client, auth)
    note(
        client,
        auth,
        body="<p>Called about <b>SSO</b><img src=x onerror=alert(1)></p>",
        admin_id="1",
        user_id="ada",
    )
    clock.advance(minutes=5)
    sign_in(client, "ann@acme.io", PASSWORD)
    profile = f"/apps/{app.app_id}/users/{key}"
    card = notes_card(profile_of(client, app, key))
    assert "<strong><bdi>Ann Admin</bdi></strong>" in card and "5 min ago" in card
    assert '<div class="said"><p>Called about <b>SSO</b><img></p></div>' in card
    assert "onerror" not in card
    # The form adds a note as Ann; what she typed is text (its tags shown), Markdown works.
    added = client.post(
        f"{profile}/notes",
        data={"csrf_token": token(client, profile), "body": "Wants <i>annual</i> **billing**"},
    )
    assert added.status_code == 303 and added.headers["Location"].endswith(f"{profile}#notes")
    page = profile_of(client, app, key)
    card = notes_card(page)
    assert "Note added." in card
    assert card.index("Wants &lt;i&gt;annual&lt;/i&gt; <strong>billing</strong>") < card.index(
        "SSO"
    )
    assert lines(page)[:2] == [
        "Ann Admin added a note: “Wants <i>annual</i> billing” (teammate)",
        "Ann Admin added a note: “Called about SSO” (REST API)",
    ]
    listed = client.get("/notes?user_id=ada", headers=auth).get_json()["notes"]
    assert listed[0]["body"] == "<p>Wants &lt;i&gt;annual&lt;/i&gt; <strong>billing</strong></p>"
    assert listed[0]["author"]["name"] == "Ann Admin"


def test_a_refused_note_on_the_profile_keeps_what_was_typed_and_stores_nothing(
    client: FlaskClient, services: Services, app: CreatedApp, auth: dict[str, str]
) -> None:
    teammate(services, app.app_id)
    key = ada(client, auth)
    sign_in(client, "ann@acme.io", PASSWORD)
    profile = f"/apps/{app.app_id}/users/{key}"
    head = services.store.head()
    typed = "   \n  "
    refused = client.post(
        f"{profile}/notes",
        data={"csrf_token": token(client, profile), "body": typed},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422
    card = notes_card(refused.get_data(as_text=True))
    assert 'aria-invalid="true"' in card and "The note was not added: cannot be empty." in card
    long = "x" * 100_001
    refused = client.post(
        f"{profile}/notes", data={"csrf_token": token(client, profile), "body": long}
    )
    assert refused.status_code == 422 and f">{long}</textarea>" in refused.get_data(as_text=True)
    # No CSRF token: refused before anything is done.
    assert client.post(f"{profile}/notes", data={"body": "sneaky"}).status_code == 400
    assert services.store.head() == head and rows(services) == []
    # Another app's user in this app's address, or an app Ann is no teammate of: not found.
    other = create_app(CreateApp("Other"), services.store, services.clock)
    stranger = ada(client, basic(other))
    head = services.store.head()
    for path in (f"/apps/{app.app_id}/users/{stranger}", f"/apps/{other.app_id}/users/{key}"):
        given = {"csrf_token": token(client, profile), "body": "x"}
        assert client.post(f"{path}/notes", data=given).status_code == 404, path
    assert services.store.head() == head and rows(services) == []
    assert "No notes yet." in notes_card(profile_of(client, app, key))


def test_the_profile_pages_through_many_notes(
    client: FlaskClient,
    services: Services,
    app: CreatedApp,
    clock: ManualClock,
    auth: dict[str, str],
) -> None:
    teammate(services, app.app_id)
    key = ada(client, auth)
    for n in range(12):
        note(client, auth, body=f"note {n}", user_id="ada")
        clock.advance(seconds=1)
    sign_in(client, "ann@acme.io", PASSWORD)
    first = notes_card(profile_of(client, app, key))
    assert first.count("<li>") == 10 and "note 11" in first and "note 2<" in first
    assert "1\N{EN DASH}10 of 12" in first and 'rel="next"' in first and "Newer" not in first
    second = notes_card(profile_of(client, app, key, notes=2))
    assert second.count("<li>") == 2 and "11\N{EN DASH}12 of 12" in second and "Newer" in second
    assert "REST API" in second  # written through the API naming no teammate


def test_a_rebuild_and_the_apps_export_keep_every_note(
    client: FlaskClient,
    services: Services,
    app: CreatedApp,
    auth: dict[str, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    ada(client, auth)
    written = [note(client, auth, body=f"note {n}", user_id="ada")["id"] for n in range(3)]
    live = rows(services)
    assert sorted(r["id"] for r in live) == sorted(written)
    assert (
        rebuild(services.store, services.runner.engine, NotesProjection()) == services.store.head()
    )
    assert rows(services) == live
    other = create_app(CreateApp("Other"), services.store, services.clock)
    exported = run(
        database_url, "events", "export", "--app", app.app_id, "--type", "Note", cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    found = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [e["state"]["note_id"] for e in found] == written
    assert {e["topic"] for e in found} == {"domain.notes:Note.Created"}
    assert found[0]["state"]["body"] == "<p>note 0</p>" and found[0]["app_id"] == app.app_id
    theirs = run(
        database_url, "events", "export", "--app", other.app_id, "--type", "Note", cwd=tmp_path
    )
    assert theirs.returncode == 0 and theirs.stdout == ""


def test_in_chromium_a_note_added_on_the_profile_shows_in_place_with_its_activity_line(
    browser: Browser, tmp_path: Path, clock: ManualClock
) -> None:
    with served_parley(tmp_path, clock, live=True) as parley:
        s, app_id = parley.services, parley.app.app_id
        teammate(s, app_id)
        key = ping(s, app_id, {"user_id": "ada", "name": "Ada"}).user.id.hex
        context = browser.new_context(viewport={"width": 375, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        sign_in_page(page, parley.url, app_id)
        page.goto(f"{parley.url}/apps/{app_id}/users/{key}")
        page.evaluate("window.stayed = true")  # gone if the page were loaded again
        page.get_by_label("Add a note").fill("   ")
        page.get_by_role("button", name="Add note").click()
        expect(page.get_by_role("alert")).to_contain_text("cannot be empty")
        page.get_by_label("Add a note").fill("Wants **annual** billing")
        page.get_by_role("button", name="Add note").click()
        notes_list = page.get_by_role("list", name="Notes, newest first")
        expect(notes_list.locator("strong", has_text="annual")).to_be_visible()
        expect(page.get_by_role("status")).to_have_text("Note added.")
        expect(page.locator("#profile-activity")).to_contain_text(
            "Ann Admin added a note: “Wants annual billing”"
        )
        expect(page.get_by_label("Add a note")).to_have_value("")
        assert page.evaluate("window.stayed") is True and problems == []
        context.close()


class Elements(HTMLParser):
    """Every element and attribute in a fragment, as a browser's parser would find them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


CORPUS = Path(__file__).parent / "corpora" / "xss" / "vectors.json"


def test_no_xss_vector_of_the_corpus_leaves_a_note_able_to_run_anything() -> None:
    """The workplace's 236 vectors as an API note (HTML) and as a dashboard note (text)."""
    vectors = json.loads(CORPUS.read_text())["vectors"]
    kept = 0
    for vector in vectors:
        for markup in ("html", "text"):
            try:
                shown = note_html(vector["payload"], markup)
            except InvalidValue:
                continue  # nothing left to show: refused, stored nowhere
            kept += 1
            parsed = Elements()
            parsed.feed(shown)
            for tag, attrs in parsed.found:
                assert tag in TAGS, (vector["id"], markup, shown)
                for name, value in attrs:
                    allowed = ATTRIBUTES.get(tag, set()) | {"rel"}
                    assert name in allowed, (vector["id"], markup, shown)
                    if name in ("href", "src"):
                        assert (value or "").startswith(("http://", "https://", "mailto:")), shown
    assert kept > len(vectors)  # most are kept as text to read, harmless
