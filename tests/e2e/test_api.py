"""The REST API end to end over HTTP (Flask's test client), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from tests.helpers import basic, post
from web.app import create_app as create_web_app
from web.bootstrap import Services, all_projections, bootstrap, migrate
from web.config import Config


def test_create_then_find_by_id_email_and_user_id(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    created = post(
        client,
        "/users",
        auth,
        {
            "user_id": "25",
            "email": "wash@serenity.io",
            "name": "Hoban Washburne",
            "signed_up_at": 1392731331,
            "last_seen_ip": "1.2.3.4",
            "last_seen_user_agent": "ie6",
            "custom_attributes": {"paid_subscriber": True, "monthly_spend": 155.5, "team_mates": 1},
            "companies": [{"company_id": "366", "name": "Serenity", "monthly_spend": 500}],
            "last_request_at": 1400000000,
            "new_session": True,
        },
    )
    assert created.status_code == 200
    user = created.get_json()
    assert user["type"] == "user"
    assert (user["user_id"], user["email"], user["name"]) == (
        "25",
        "wash@serenity.io",
        "Hoban Washburne",
    )
    assert user["signed_up_at"] == 1392731331
    assert user["last_request_at"] == 1400000000
    assert user["session_count"] == 1
    assert user["last_seen_ip"] == "1.2.3.4"
    assert user["custom_attributes"] == {
        "paid_subscriber": True,
        "monthly_spend": 155.5,
        "team_mates": 1,
    }
    assert [c["company_id"] for c in user["companies"]["companies"]] == ["366"]
    for query in (f"/users/{user['id']}", "/users?email=wash@serenity.io", "/users?user_id=25"):
        found = client.get(query, headers=auth)
        assert found.status_code == 200, query
        assert found.get_json()["id"] == user["id"]
    company = client.get("/companies?company_id=366", headers=auth).get_json()
    assert (company["type"], company["name"], company["user_count"]) == ("company", "Serenity", 1)


def test_update_by_email_changes_only_what_is_sent(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    post(
        client,
        "/users",
        auth,
        {"email": "a@example.com", "name": "A", "custom_attributes": {"plan": "free"}},
    )
    updated = post(
        client, "/users", auth, {"email": "a@example.com", "custom_attributes": {"seats": 3}}
    ).get_json()
    assert updated["name"] == "A"
    assert updated["custom_attributes"] == {"plan": "free", "seats": 3}
    listing = client.get("/users", headers=auth).get_json()
    assert listing["total_count"] == 1


def test_users_are_paginated_with_pages_next(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    for n in range(7):
        services.clock.advance(seconds=1)  # type: ignore[attr-defined]
        post(client, "/users", auth, {"user_id": f"p{n}"})
    seen: list[str] = []
    url: str | None = "/users?per_page=3"
    pages = 0
    while url:
        page = client.get(url, headers=auth).get_json()
        assert page["type"] == "user.list" and page["total_count"] == 7
        seen += [u["user_id"] for u in page["users"]]
        url = page["pages"]["next"]
        pages += 1
    assert pages == 3
    assert seen == [f"p{n}" for n in reversed(range(7))]


def test_delete_removes_the_user_from_every_listing(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    user = post(client, "/users", auth, {"user_id": "gone"}).get_json()
    deleted = client.delete(f"/users/{user['id']}", headers=auth)
    assert deleted.status_code == 200 and deleted.get_json()["user_id"] == "gone"
    assert client.get(f"/users/{user['id']}", headers=auth).status_code == 404
    assert client.get("/users?user_id=gone", headers=auth).status_code == 404
    assert client.get("/users", headers=auth).get_json()["total_count"] == 0
    assert client.delete(f"/users/{user['id']}", headers=auth).status_code == 404
    # By user_id or email, as Intercom 1.x documented it; the user is looked up first.
    post(client, "/users", auth, {"user_id": "u2", "email": "two@x.io"})
    post(client, "/users", auth, {"email": "three@x.io", "remote_created_at": 1_400_000_000})
    assert client.delete("/users?user_id=u2", headers=auth).get_json()["email"] == "two@x.io"
    by_email = client.delete("/users/?email=THREE@x.io", headers=auth).get_json()
    assert by_email["email"] == "three@x.io" and by_email["signed_up_at"] == 1_400_000_000
    assert client.get("/users", headers=auth).get_json()["total_count"] == 0
    assert client.delete("/users?email=three@x.io", headers=auth).status_code == 404
    assert client.delete("/users", headers=auth).status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "1", "signed_up_at": "next week"}, "signed_up_at"),
        ({"user_id": "1", "custom_attributes": {"x": [1, 2]}}, "custom_attributes.x"),
        (
            {"user_id": "1", "custom_attributes": {"renew_at": "never"}},
            "custom_attributes.renew_at",
        ),
        ({"user_id": "1", "last_seen_ip": "not-an-ip"}, "last_seen_ip"),
        ({"name": "nobody"}, "user_id"),
        ({"user_id": "1", "companies": [{"name": "no id"}]}, "companies.0.company_id"),
        ({"user_id": "1", "remote_created_at": "soon"}, "remote_created_at"),
    ],
)
def test_bad_input_gets_an_error_list_naming_the_field_and_changes_nothing(
    client: FlaskClient, auth: dict[str, str], services: Services, body: dict, field: str
) -> None:
    head = services.store.head()
    response = post(client, "/users", auth, body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["type"] == "error.list"
    assert error["errors"][0]["code"] == "parameter_invalid"
    assert error["errors"][0]["field"] == field
    assert services.store.head() == head


def test_malformed_json_is_a_clear_400(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/users", data="{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "body"


def test_wrong_or_missing_credentials_are_refused(client: FlaskClient, app: CreatedApp) -> None:
    assert client.get("/users").status_code == 401
    wrong = basic(CreatedApp(app.app_id, "not-the-key", ""))
    response = client.get("/users", headers=wrong)
    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "unauthorized"


def test_an_apps_key_never_sees_another_apps_data(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    other = create_app(CreateApp("Other"), services.store, services.clock)
    theirs = basic(other)
    user = post(client, "/users", theirs, {"user_id": "secret", "email": "s@other.com"}).get_json()
    post(client, "/companies", theirs, {"company_id": "c1", "name": "Other Inc"})
    assert client.get("/users", headers=auth).get_json()["total_count"] == 0
    assert client.get(f"/users/{user['id']}", headers=auth).status_code == 404
    assert client.get("/users?email=s@other.com", headers=auth).status_code == 404
    assert client.get("/users?user_id=secret", headers=auth).status_code == 404
    assert client.delete(f"/users/{user['id']}", headers=auth).status_code == 404
    # By user_id or email, as Intercom 1.x documented it; the user is looked up first.
    post(client, "/users", auth, {"user_id": "u2", "email": "two@x.io"})
    post(client, "/users", auth, {"email": "three@x.io", "remote_created_at": 1_400_000_000})
    assert client.delete("/users?user_id=u2", headers=auth).get_json()["email"] == "two@x.io"
    by_email = client.delete("/users/?email=THREE@x.io", headers=auth).get_json()
    assert by_email["email"] == "three@x.io" and by_email["signed_up_at"] == 1_400_000_000
    assert client.get("/users", headers=auth).get_json()["total_count"] == 0
    assert client.delete("/users?email=three@x.io", headers=auth).status_code == 404
    assert client.delete("/users", headers=auth).status_code == 400
    assert client.get("/companies?company_id=c1", headers=auth).status_code == 404
    assert client.get("/companies", headers=auth).get_json()["total_count"] == 0
    # The same user_id in our app is a different person.
    ours = post(client, "/users", auth, {"user_id": "secret"}).get_json()
    assert ours["id"] != user["id"] and ours["email"] is None
    assert client.get(f"/users/{user['id']}", headers=theirs).status_code == 200


def test_a_user_known_by_user_id_is_found_by_the_email_given_later_everywhere(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    post(client, "/users", auth, {"user_id": "late"})
    post(client, "/users", auth, {"user_id": "late", "email": "Late@x.io"})
    event = {"event_name": "ordered", "created_at": 1_700_000_000, "email": "late@x.io"}
    assert post(client, "/events", auth, event).status_code == 202
    by_email = client.get("/events?type=user&email=late@x.io", headers=auth).get_json()
    assert by_email["events"][0]["user_id"] == "late"
    note = post(client, "/notes", auth, {"email": "late@x.io", "body": "Found"})
    assert note.status_code == 200, note.get_json()
    tagged = post(client, "/tags", auth, {"name": "Late", "users": [{"email": "late@x.io"}]})
    assert tagged.status_code == 200
    gone = client.delete("/users?email=late@x.io", headers=auth)
    assert gone.status_code == 200 and gone.get_json()["user_id"] == "late"


def test_a_deleted_company_leaves_every_list_and_its_users_and_comes_back_empty(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    joining = {"companies": [{"company_id": "acme", "name": "Acme", "monthly_spend": 10}]}
    for user_id in ("ann", "bob"):
        post(client, "/users", auth, {"user_id": user_id, **joining})
    acme = client.get("/companies?company_id=acme", headers=auth).get_json()
    post(client, "/tags", auth, {"name": "Big", "companies": [{"id": acme["id"]}]})
    gone = client.delete(f"/companies/{acme['id']}/", headers=auth)  # the clients' slash
    assert gone.status_code == 200 and gone.get_json()["company_id"] == "acme"
    assert client.get(f"/companies/{acme['id']}", headers=auth).status_code == 404
    assert client.get("/companies?company_id=acme", headers=auth).status_code == 404
    assert client.get(f"/companies/{acme['id']}/users", headers=auth).status_code == 404
    listing = client.get("/companies", headers=auth).get_json()
    assert listing["total_count"] == 0 and listing["total_monthly_spend"] == 0
    ann = client.get("/users?user_id=ann", headers=auth).get_json()
    assert ann["companies"]["companies"] == []
    counts = client.get("/counts", headers=auth).get_json()
    assert counts["company"]["count"] == 0
    assert client.delete(f"/companies/{acme['id']}", headers=auth).status_code == 404
    tagging = post(client, "/tags", auth, {"name": "Big", "companies": [{"id": acme["id"]}]})
    assert tagging.status_code == 404  # no tagging a deleted company
    # Named again, it starts afresh: no users, no tags, none of its old attributes.
    again = post(client, "/companies", auth, {"company_id": "acme", "plan": "Starter"}).get_json()
    assert again["id"] == acme["id"] and again["name"] is None and again["user_count"] == 0
    assert again["tags"]["tags"] == [] and again["monthly_spend"] is None


def test_companies_create_list_and_find(client: FlaskClient, auth: dict[str, str]) -> None:
    created = post(
        client,
        "/companies",
        auth,
        {
            "company_id": "6",
            "name": "Intercom",
            "plan": "Messaging",
            "monthly_spend": 50,
            "remote_created_at": 1350466020,
            "custom_attributes": {"seats": 10},
        },
    )
    assert created.status_code == 200
    company = created.get_json()
    assert company["plan"] == {"type": "plan", "name": "Messaging"}
    assert company["custom_attributes"] == {"seats": 10}
    post(client, "/companies", auth, {"company_id": "7", "name": "Parley", "monthly_spend": 25.5})
    listing = client.get("/companies", headers=auth).get_json()
    assert listing["type"] == "company.list" and listing["total_count"] == 2
    assert listing["total_monthly_spend"] == 75.5
    assert client.get(f"/companies/{company['id']}", headers=auth).get_json()["name"] == "Intercom"
    # Updated by Parley's id alone (as the 1.x clients save a company they found) ...
    by_id = post(client, "/companies", auth, {"id": company["id"], "plan": "Pro"}).get_json()
    assert by_id["company_id"] == "6" and by_id["plan"]["name"] == "Pro"
    # ... and refused when that id is unknown or names another company than company_id.
    unknown = post(client, "/companies", auth, {"id": "f" * 32, "name": "X"})
    assert unknown.status_code == 404
    mismatch = post(client, "/companies", auth, {"id": company["id"], "company_id": "7"})
    assert mismatch.status_code == 400 and mismatch.get_json()["errors"][0]["field"] == "id"
    assert client.get("/companies", headers=auth).get_json()["total_count"] == 2
    assert client.get("/companies?name=Parley", headers=auth).get_json()["company_id"] == "7"
    assert client.get("/companies?company_id=404", headers=auth).status_code == 404


def test_health_reports_the_head_and_each_projections_position(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    post(client, "/users", auth, {"user_id": "h"})
    health = client.get("/health").get_json()
    assert health["event_store"]["head"] == services.store.head()
    assert set(health["projections"]) == {p.name for p in all_projections()}
    assert health["projections"]["users"]["lag"] == 0


def test_the_ping_endpoint_answers_any_origin(client: FlaskClient, app: CreatedApp) -> None:
    preflight = client.options(
        "/widget/ping",
        headers={"Origin": "https://customer.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://customer.example")
    response = client.post(
        "/widget/ping",
        data=json.dumps({"app_id": app.app_id, "user": {"user_id": "x"}}),
        headers={"Origin": "https://customer.example", "Content-Type": "text/plain"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://customer.example")
    assert client.get("/widget.js").headers["Content-Type"].startswith("application/javascript")


def test_widget_js_is_compressed_for_browsers_that_take_gzip_and_revalidated(
    client: FlaskClient,
) -> None:
    import gzip

    plain = client.get("/widget.js")
    assert "Content-Encoding" not in plain.headers and b"Intercom" in plain.data
    packed = client.get("/widget.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2
    again = client.get(
        "/widget.js", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""
    refused = client.get("/widget.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data


def test_health_says_unavailable_when_the_database_is_not_usable(
    pg_services: Services, postgres_server: str
) -> None:
    from sqlalchemy import create_engine, text

    client = create_web_app(services=pg_services).test_client()
    assert client.get("/health").status_code == 200
    schema = str(pg_services.engine.url.query["options"]).split("=")[-1]
    admin = create_engine(postgres_server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_nul_characters_are_refused_before_anything_is_recorded(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    """PostgreSQL text cannot hold NUL: accepting one would record an event no read model
    can show, and stall the projections that try."""
    head = services.store.head()
    refused = post(client, "/users", auth, {"user_id": "n", "name": "a\x00b"})
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["field"] == "name"
    ping = {"app_id": app.app_id, "user": {"user_id": "n", "company": {"id": "c", "name": "\x00"}}}
    refused = client.post("/widget/ping", data=json.dumps(ping))
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["field"] == "company.name"
    assert services.store.head() == head
    assert post(client, "/users", auth, {"user_id": "n", "name": "ab"}).status_code == 200


def test_a_write_to_a_web_worker_shows_at_once_when_no_runner_is_near(
    config: Config, clock: ManualClock
) -> None:
    """`parley serve`'s workers bootstrap with external projections (their runner is another
    process, which may be slow or down): each write is still answered once every list shows
    it, because the worker applies what it waits for."""
    worker = replace(config, projections="external")
    migrate(worker)
    services = bootstrap(worker, clock)
    try:
        auth = basic(create_app(CreateApp("Alone"), services.store, clock))
        web = create_web_app(services=services, follow=False)
        client = web.test_client()
        made = post(client, "/users", auth, {"user_id": "7", "email": "kaylee@serenity.io"})
        assert made.status_code == 200 and made.get_json()["email"] == "kaylee@serenity.io"
        listed = client.get("/users?email=kaylee@serenity.io", headers=auth).get_json()
        assert listed["id"] == made.get_json()["id"]
        tagged = post(client, "/tags", auth, {"name": "Mechanic", "users": [{"user_id": "7"}]})
        assert tagged.status_code == 200
        users = client.get(f"/users?tag_id={tagged.get_json()['id']}", headers=auth).get_json()
        assert [u["user_id"] for u in users["users"]] == ["7"]
        assert services.runner.positions() == {
            p.name: services.store.head() for p in all_projections()
        }
        web.extensions["parley_jobs"].stop()
        web.extensions["parley_live"].stop()
    finally:
        services.close()
