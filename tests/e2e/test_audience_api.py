"""Finding users over HTTP: filtered and sorted lists with keyset pages, CSV export, users of a
company, and tags (Intercom 1.x shapes), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from commands.tags import SaveTag, UserRef, save_tag
from domain.identity import user_id_key
from domain.user import User
from tests.helpers import post
from web.bootstrap import Services


def users_where(client: FlaskClient, auth: dict[str, str], f: Any, extra: str = "") -> Any:
    response = client.get(f"/users?filter={quote(json.dumps(f))}{extra}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids_of(listing: Any) -> list[str]:
    return [u["user_id"] for u in listing["users"]]


def people(client: FlaskClient, auth: dict[str, str], services: Services) -> None:
    plans = {"ann": "pro", "bob": "free", "cyd": "Pro", "dee": None}
    for n, (name, plan) in enumerate(plans.items()):
        services.clock.advance(days=1)  # type: ignore[attr-defined]
        post(
            client,
            "/users",
            auth,
            {
                "user_id": name,
                "email": f"{name}@example.com",
                "name": name.title(),
                "custom_attributes": {"plan": plan, "seats": n * 10},
                "companies": [
                    {"company_id": "acme", "name": "Acme"},
                    {"company_id": f"co{n}", "monthly_spend": 100 * n},
                ],
                "last_request_at": 1_767_225_600 + n * 86_400 if n < 3 else None,
            },
        )


def test_a_filter_picks_users_and_counts_them(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    pro = users_where(
        client, auth, {"all": [{"attribute": "custom.plan", "operator": "is", "value": "pro"}]}
    )
    assert sorted(ids_of(pro)) == ["ann", "cyd"]  # ASCII case is ignored
    assert pro["total_count"] == 2
    big = users_where(
        client,
        auth,
        {
            "any": [
                {"attribute": "custom.seats", "operator": "gte", "value": 20},
                {"attribute": "name", "operator": "is", "value": "Ann"},
            ]
        },
        "&sort=name&order=asc",
    )
    assert ids_of(big) == ["ann", "cyd", "dee"]
    spenders = users_where(
        client, auth, {"attribute": "company.monthly_spend", "operator": "gt", "value": 150}
    )
    assert sorted(ids_of(spenders)) == ["cyd", "dee"]


def test_keyset_pages_walk_a_sorted_list_once_nulls_last(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    for order, expected in (
        ("asc", ["ann", "bob", "cyd", "dee"]),
        ("desc", ["cyd", "bob", "ann", "dee"]),
    ):
        url: str | None = f"/users?sort=last_request_at&order={order}&per_page=1"
        seen, pages = [], []
        while url:
            page = client.get(url, headers=auth).get_json()
            assert page["total_count"] == 4
            seen += ids_of(page)
            pages.append(page["pages"]["page"])
            url = page["pages"]["next"]
        assert seen == expected
        assert pages == [1, 2, 3, 4]


def test_bad_filters_and_arguments_are_400_naming_the_part(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    cases = {
        "/users?filter="
        + quote(
            json.dumps({"all": [{"attribute": "name", "operator": "gt", "value": 1}]})
        ): "filter.all[0].operator",
        "/users?filter=" + quote("{not json"): "filter",
        "/users?filter="
        + quote(
            json.dumps({"attribute": "shoe", "operator": "is", "value": "9"})
        ): "filter.attribute",
        "/users?sort=password": "sort",
        "/users?after=garbage!": "after",
    }
    for url, field in cases.items():
        response = client.get(url, headers=auth)
        assert response.status_code == 400, url
        error = response.get_json()
        assert error["type"] == "error.list"
        assert error["errors"][0]["field"] == field, (url, error)


def test_hostile_filter_values_are_only_values(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    for value in ["'; DROP TABLE users; --", "%", "_", "' OR '1'='1"]:
        found = users_where(
            client, auth, {"attribute": "name", "operator": "contains", "value": value}
        )
        assert found["users"] == []
    assert users_where(client, auth, {"all": []})["total_count"] == 4


def test_tags_tag_untag_list_rename_and_delete(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    tag = post(
        client,
        "/tags",
        auth,
        {"name": "PDF", "users": [{"user_id": "ann"}, {"email": "BOB@example.com"}]},
    ).get_json()
    assert tag["type"] == "tag" and tag["name"] == "PDF"
    tagged = client.get(f"/users?tag_id={tag['id']}", headers=auth).get_json()
    assert sorted(ids_of(tagged)) == ["ann", "bob"]
    ann = client.get("/users?user_id=ann", headers=auth).get_json()
    assert ann["tags"] == {
        "type": "tag.list",
        "tags": [{"type": "tag", "id": tag["id"], "name": "PDF"}],
    }
    # Same name again (any case) is the same tag; untag one user.
    again = post(
        client, "/tags", auth, {"name": "pdf", "users": [{"user_id": "bob", "untag": True}]}
    ).get_json()
    assert again["id"] == tag["id"]
    assert ids_of(client.get(f"/users?tag_id={tag['id']}", headers=auth).get_json()) == ["ann"]
    renamed = post(client, "/tags", auth, {"id": tag["id"], "name": "PDF export"}).get_json()
    assert renamed == {"type": "tag", "id": tag["id"], "name": "PDF export"}
    # Tag everyone a filter matches.
    vip = post(
        client,
        "/tags",
        auth,
        {"name": "VIP", "filter": {"attribute": "custom.seats", "operator": "gte", "value": 20}},
    ).get_json()
    assert sorted(ids_of(client.get(f"/users?tag_id={vip['id']}", headers=auth).get_json())) == [
        "cyd",
        "dee",
    ]
    # A filter naming a segment tags the segment's users.
    seats = {"attribute": "custom.seats", "operator": "gte", "value": 30}
    big = post(client, "/segments", auth, {"name": "Big", "filter": seats}).get_json()
    by_segment = {"attribute": "segment", "operator": "is", "value": big["id"]}
    wide = post(client, "/tags", auth, {"name": "Wide", "filter": by_segment}).get_json()
    wide_users = client.get(f"/users?tag_id={wide['id']}", headers=auth).get_json()
    assert ids_of(wide_users) == ["dee"]
    client.delete(f"/tags/{wide['id']}", headers=auth)
    listed = client.get("/tags", headers=auth).get_json()
    assert [t["name"] for t in listed["tags"]] == ["PDF export", "VIP"]
    # Deleting a tag takes it off everyone, in the read model and in each user's history.
    assert client.delete(f"/tags/{vip['id']}", headers=auth).status_code == 200
    assert [t["name"] for t in client.get("/tags", headers=auth).get_json()["tags"]] == [
        "PDF export"
    ]
    cyd = client.get("/users?user_id=cyd", headers=auth).get_json()
    assert cyd["tags"]["tags"] == []
    app_id = auth_app_id(auth)
    user: User = services.store.repository.get(user_id_key(app_id, "cyd"))
    assert isinstance(user, User) and user.tags == []
    assert client.delete(f"/tags/{vip['id']}", headers=auth).status_code == 404


def test_tagging_an_unknown_user_changes_nothing(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    head = services.store.head()
    response = post(
        client,
        "/tags",
        auth,
        {"name": "Ghosts", "users": [{"user_id": "ann"}, {"user_id": "nobody"}]},
    )
    assert response.status_code == 404
    assert services.store.head() == head
    assert client.get("/tags", headers=auth).get_json()["tags"] == []
    bad = post(client, "/tags", auth, {"name": "X", "users": [{"untag": True}]})
    assert bad.status_code == 400


def test_users_of_a_company(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    post(client, "/users", auth, {"user_id": "eve", "companies": [{"company_id": "globex"}]})
    acme = client.get("/companies?company_id=acme", headers=auth).get_json()
    members = client.get(
        f"/companies/{acme['id']}/users?sort=user_id&order=asc", headers=auth
    ).get_json()
    assert ids_of(members) == ["ann", "bob", "cyd", "dee"]
    assert client.get("/companies/nope/users", headers=auth).status_code == 404


def test_csv_export_streams_the_filtered_list(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    post(
        client,
        "/users",
        auth,
        {"user_id": "mal", "name": '=HYPERLINK("http://evil")', "custom_attributes": {"seats": 99}},
    )
    f = {"attribute": "custom.seats", "operator": "gte", "value": 20}
    response = client.get(
        f"/users/export?sort=user_id&order=asc&filter={quote(json.dumps(f))}", headers=auth
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["user_id"] for r in rows] == ["cyd", "dee", "mal"]
    assert rows[0]["companies"] == "acme;co2"
    assert json.loads(rows[0]["custom_attributes"]) == {"plan": "Pro", "seats": 20}
    assert rows[2]["name"].startswith("'=")  # a spreadsheet shows it, never runs it


def auth_app_id(auth: dict[str, str]) -> str:
    token = auth["Authorization"].split()[1]
    return base64.b64decode(token).decode().split(":")[0]


def test_tags_made_by_commands_show_in_payloads(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
) -> None:
    people(client, auth, services)
    app_id = auth_app_id(auth)
    saved = save_tag(
        SaveTag(app_id=app_id, name="Beta", users=[UserRef(user_id="dee")]),
        services.store,
        services.clock,
    )
    services.runner.catch_up()
    dee = client.get("/users?user_id=dee", headers=auth).get_json()
    assert dee["tags"]["tags"] == [{"type": "tag", "id": saved.id, "name": "Beta"}]
