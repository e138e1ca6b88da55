"""The bulk API (Intercom 2015): a job taken at once, worked through by the workers, with its
progress and each refused item's reason."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient

from tests.helpers import post
from web.bootstrap import Services


def finished(client: FlaskClient, auth: dict[str, str], job: dict[str, Any]) -> dict[str, Any]:
    """The job once done, and the lists once they show what it did."""
    deadline = time.monotonic() + 60
    while True:
        found = client.get(job["links"]["self"], headers=auth).get_json()
        if found["state"] != "running":
            services: Services = client.application.extensions["parley"]
            assert services.runner.wait_for(services.store.head())
            return dict(found)
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def test_bulk_users_are_created_updated_and_deleted_with_each_refusal_told(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    post(client, "/users", auth, {"user_id": "old", "email": "old@x.io"})
    items: list[dict[str, Any]] = [
        {
            "method": "post",
            "data_type": "user",
            "data": {
                "user_id": f"u{n}",
                "email": f"u{n}@x.io",
                "name": f"User {n}",
                "custom_attributes": {"plan": "pro" if n % 2 else "free"},
                "companies": [{"company_id": "acme", "name": "Acme"}],  # all in one company
            },
        }
        for n in range(300)
    ]
    items[10]["data"]["custom_attributes"] = {"nested": {"no": "objects"}}  # refused
    items.append({"method": "post", "data": {"user_id": "u5", "name": "Renamed in the same job"}})
    items.append({"method": "delete", "data_type": "user", "data": {"user_id": "old"}})
    items.append({"method": "delete", "data": {"email": "nobody@x.io"}})  # refused: no one
    answer = post(client, "/bulk/users", auth, {"items": items})
    assert answer.status_code == 202, answer.get_json()
    job = answer.get_json()
    assert job["type"] == "job" and job["tasks"][0]["item_count"] == 303
    done = finished(client, auth, job)
    assert done["state"] == "completed_with_errors"
    assert done["tasks"][0]["succeeded"] == 301 and done["tasks"][0]["failed"] == 2
    errors = client.get(job["links"]["error"], headers=auth).get_json()["items"]
    assert [(e["index"], e["error"]["code"]) for e in errors] == [
        (10, "parameter_invalid"),
        (302, "not_found"),
    ]
    assert errors[0]["error"]["field"] == "custom_attributes.nested"
    assert errors[0]["data"]["user_id"] == "u10"
    listing = client.get("/users?per_page=1", headers=auth).get_json()
    assert listing["total_count"] == 299  # 300 new, one refused, the old one deleted
    assert client.get("/users?user_id=u10", headers=auth).status_code == 404
    assert client.get("/users?user_id=old", headers=auth).status_code == 404
    u5 = client.get("/users?user_id=u5", headers=auth).get_json()
    assert u5["name"] == "Renamed in the same job" and u5["custom_attributes"]["plan"] == "pro"
    assert u5["companies"]["companies"][0]["company_id"] == "acme"
    acme = client.get("/companies?company_id=acme", headers=auth).get_json()
    assert acme["user_count"] == 299


def test_an_apps_jobs_are_done_in_the_order_they_were_taken(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    creates = [{"method": "post", "data": {"user_id": f"o{n}", "name": "New"}} for n in range(600)]
    later = [{"method": "post", "data": {"user_id": f"o{n}", "name": "Renamed"}} for n in range(3)]
    later += [{"method": "delete", "data": {"user_id": f"o{n}"}} for n in range(3, 300)]
    first = post(client, "/bulk/users", auth, {"items": creates}).get_json()
    second = post(client, "/bulk/users", auth, {"items": later}).get_json()
    done = [finished(client, auth, job) for job in (first, second)]
    assert [d["state"] for d in done] == ["completed", "completed"]  # no delete missed its user
    assert done[0]["completed_at"] <= done[1]["started_at"]
    assert client.get("/users?user_id=o1", headers=auth).get_json()["name"] == "Renamed"
    assert client.get("/users?per_page=1", headers=auth).get_json()["total_count"] == 303
    appending = post(client, "/bulk/users", auth, {"items": later, "job": {"id": first["id"]}})
    assert appending.status_code == 400 and appending.get_json()["errors"][0]["field"] == "job"


def test_bulk_events_are_tracked_and_an_unknown_user_is_told(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    for name in ("ann", "bob"):
        post(client, "/users", auth, {"user_id": name})
    items = [
        {
            "method": "post",
            "data_type": "event",
            "data": {"event_name": "ordered", "created_at": 1_700_000_000 + n, "user_id": who},
        }
        for n, who in enumerate(["ann", "ann", "bob", "nobody"])
    ]
    job = post(client, "/bulk/events", auth, {"items": items}).get_json()
    done = finished(client, auth, job)
    assert done["state"] == "completed_with_errors" and done["tasks"][0]["failed"] == 1
    summary = client.get("/events?type=user&user_id=ann&summary=true", headers=auth).get_json()
    assert summary["events"][0]["count"] == 2


def test_a_malformed_bulk_request_is_refused_whole_and_records_nothing(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    head = services.store.head()
    one = {"method": "post", "data": {"user_id": "x"}}
    for given, field in (
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": [one] * 1001}, "items"),
        ({"items": [{"method": "put", "data": {"user_id": "x"}}]}, "items.0.method"),
        ({"items": [one, {"method": "post", "data": "x"}]}, "items.1.data"),
        ({"items": [{"method": "post", "data_type": "event", "data": {}}]}, "items.0.data_type"),
    ):
        refused = post(client, "/bulk/users", auth, given)
        assert refused.status_code == 400, (field, refused.get_json())
        assert refused.get_json()["errors"][0]["field"] == field
    deleting_events = post(client, "/bulk/events", auth, {"items": [{**one, "method": "delete"}]})
    assert deleting_events.get_json()["errors"][0]["field"] == "items.0.method"
    assert services.store.head() == head
    assert client.get("/jobs/nope", headers=auth).status_code == 404
