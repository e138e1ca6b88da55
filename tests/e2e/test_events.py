"""Tracked events: POST /events and the snippet's trackEvent, and filters on them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from domain.identity import user_id_key
from domain.user import User
from tests.helpers import post
from web.bootstrap import Services

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_user_remembers_how_often_and_when_they_did_something() -> None:
    user = User(app_id="a", user_id="u", email=None, at=START)
    for days in (3, 1, 5):
        user.track("invited-teammate", START + timedelta(days=days), {"role": "admin"})
    first, last = START + timedelta(days=1), START + timedelta(days=5)
    assert user.events == {
        "invited-teammate": {
            "count": 3,
            "first_at": int(first.timestamp()),
            "last_at": int(last.timestamp()),
        }
    }


def matching(client: FlaskClient, auth: dict[str, str], f: Any) -> list[str]:
    response = client.get(f"/users?filter={quote(json.dumps(f))}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return sorted(u["user_id"] for u in response.get_json()["users"])


def test_events_recorded_over_the_api_can_be_filtered_on(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    now = int(services.clock.now().timestamp())
    for name in ("ann", "bob", "cyd"):
        post(client, "/users", auth, {"user_id": name})
    for name, times in (("ann", 3), ("bob", 1)):
        for n in range(times):
            response = post(
                client,
                "/events",
                auth,
                {
                    "event_name": "invited-teammate",
                    "created_at": now - n * 86_400,
                    "user_id": name,
                    "metadata": {"invitee_email": f"{n}@x.io", "seats": n},
                },
            )
            assert response.status_code == 202, response.get_json()
    at_least_twice = {"attribute": "event.invited-teammate.count", "operator": "gte", "value": 2}
    assert matching(client, auth, at_least_twice) == ["ann"]
    never = {"attribute": "event.invited-teammate.count", "operator": "eq", "value": 0}
    assert matching(client, auth, never) == ["cyd"]
    recent = {
        "attribute": "event.invited-teammate.last_at",
        "operator": "less_than_days_ago",
        "value": 7,
    }
    assert matching(client, auth, recent) == ["ann", "bob"]
    services.clock.advance(days=8)  # type: ignore[attr-defined]
    assert matching(client, auth, recent) == []
    lapsed = {
        "attribute": "event.invited-teammate.last_at",
        "operator": "more_than_days_ago",
        "value": 7,
    }
    assert matching(client, auth, lapsed) == ["ann", "bob"]


def test_bad_events_are_refused_and_record_nothing(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    post(client, "/users", auth, {"user_id": "ann"})
    head = services.store.head()
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"event_name": "x", "created_at": "last tuesday", "user_id": "ann"}, 400, "created_at"),
        ({"event_name": "", "created_at": 1, "user_id": "ann"}, 400, "event_name"),
        ({"event_name": "x", "created_at": 1}, 400, "user_id"),
        (
            {"event_name": "x", "created_at": 1, "user_id": "ann", "metadata": {"a": [1]}},
            400,
            "metadata.a",
        ),
        (
            {
                "event_name": "x",
                "created_at": 1,
                "user_id": "ann",
                "metadata": {str(n): n for n in range(11)},
            },
            400,
            "metadata",
        ),
        ({"event_name": "x", "created_at": 1, "user_id": "nobody"}, 404, None),
    ]
    for odd in (
        {"url": "javascript:alert(1)", "value": "x"},
        {"url": "https://a.io/", "value": 3},
        {"amount": 9.99, "currency": "usd"},
        {"amount": 999, "currency": "dollars"},
        {"amount": 999, "currency": "usd", "extra": 1},
    ):  # Intercom's link and price objects, malformed
        bad = {"event_name": "x", "created_at": 1, "user_id": "ann", "metadata": {"o": odd}}
        cases.append((bad, 400, "metadata.o"))
    for given, status, field in cases:
        response = post(client, "/events", auth, given)
        assert response.status_code == status, (given, response.get_json())
        if field is not None:
            assert response.get_json()["errors"][0]["field"] == field
    assert services.store.head() == head


def test_the_snippet_tracks_events_for_the_booted_user(
    client: FlaskClient, app: Any, services: Services
) -> None:
    boot = {"app_id": app.app_id, "user": {"user_id": "ann"}, "url": "https://a.io/"}
    assert client.post("/widget/ping", data=json.dumps(boot)).status_code == 200
    event = {
        "app_id": app.app_id,
        "user_id": "ann",
        "event_name": "exported-pdf",
        "metadata": {"pages": 3},
    }
    response = client.post("/widget/events", data=json.dumps(event), content_type="text/plain")
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    user: User = services.store.repository.get(user_id_key(app.app_id, "ann"))
    assert user.events["exported-pdf"]["count"] == 1


def test_in_secure_mode_an_event_without_the_users_hash_is_refused(
    client: FlaskClient, app: Any, services: Services
) -> None:
    from commands.apps import SetSecureMode, set_secure_mode
    from domain.app import user_hash

    boot = {"app_id": app.app_id, "user": {"user_id": "ann"}, "url": "https://a.io/"}
    assert client.post("/widget/ping", data=json.dumps(boot)).status_code == 200
    set_secure_mode(SetSecureMode(app.app_id, True), services.store, services.clock)
    head = services.store.head()
    event = {"app_id": app.app_id, "user_id": "ann", "event_name": "exported-pdf"}
    refused = client.post("/widget/events", data=json.dumps(event))
    assert refused.status_code == 401
    assert services.store.head() == head
    signed = {**event, "user_hash": user_hash(app.secret, "ann")}
    assert client.post("/widget/events", data=json.dumps(signed)).status_code == 202


def test_a_users_events_are_listed_newest_first_with_their_metadata_and_summed_up(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    from projections.rebuild import rebuild
    from web.bootstrap import all_projections

    ann = post(client, "/users", auth, {"user_id": "ann", "email": "ann@x.io"}).get_json()
    post(client, "/users", auth, {"user_id": "bob"})
    price = {"amount": 3499, "currency": "EUR"}
    for n in range(5):
        metadata = {"seats": n, "order": {"url": f"https://a.io/o/{n}", "value": f"#{n}"}}
        if n == 4:
            metadata["price"] = price
        given = {"event_name": "ordered", "created_at": 1_700_000_000 + n, "user_id": "ann"}
        assert post(client, "/events", auth, {**given, "metadata": metadata}).status_code == 202
    post(
        client,
        "/events",
        auth,
        {"event_name": "left", "created_at": 1_700_000_100, "user_id": "bob"},
    )
    seen: list[dict[str, Any]] = []
    url: str | None = "/events?type=user&email=ann@x.io&per_page=2"
    while url:
        page = client.get(url, headers=auth).get_json()
        assert page["type"] == "event.list" and len(page["events"]) <= 2
        seen += page["events"]
        url = page["pages"]["next"]
    assert [e["created_at"] for e in seen] == [1_700_000_000 + n for n in (4, 3, 2, 1, 0)]
    assert {e["event_name"] for e in seen} == {"ordered"}  # Bob's are his own
    newest = seen[0]
    assert newest["user_id"] == "ann" and newest["intercom_user_id"] == ann["id"]
    assert newest["metadata"]["price"] == {"amount": 3499, "currency": "eur"}
    assert newest["metadata"]["order"] == {"url": "https://a.io/o/4", "value": "#4"}
    by_id = client.get(f"/events?type=user&intercom_user_id={ann['id']}", headers=auth)
    assert [e["id"] for e in by_id.get_json()["events"]] == [e["id"] for e in seen]
    summary = client.get("/events?type=user&user_id=ann&summary=true", headers=auth).get_json()
    assert summary["type"] == "event.summary"
    assert summary["events"] == [
        {"name": "ordered", "count": 5, "first": 1_700_000_000, "last": 1_700_000_004}
    ]
    for query, status in (("type=user", 400), ("user_id=ann", 400), ("type=user&user_id=x", 404)):
        assert client.get(f"/events?{query}", headers=auth).status_code == status
    unnamed = client.get("/events?type=user", headers=auth).get_json()["errors"][0]
    assert unnamed["field"] == "user_id"
    assert "an id, a user_id or an email" in unnamed["message"]  # every way of naming one
    # Rebuilt from the log, the list is the same (ids included).
    services.runner.catch_up()
    (projection,) = [p for p in all_projections() if p.name == "tracked_events"]
    rebuild(services.store, services.runner.engine, projection)  # a writer, as the CLI
    again = client.get("/events?type=user&user_id=ann&per_page=10", headers=auth).get_json()
    assert [e["id"] for e in again["events"]] == [e["id"] for e in seen]
