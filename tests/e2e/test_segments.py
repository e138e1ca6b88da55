"""Segments (saved filters whose membership is always current) and counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from domain.errors import InvalidValue
from domain.segments import Segments
from tests.helpers import post
from web.bootstrap import Services

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PRO = {"attribute": "custom.plan", "operator": "is", "value": "pro"}


def test_segments_refuse_unknown_references_cycles_and_name_clashes() -> None:
    segments = Segments(app_id="a")
    pro = segments.create("Pro", PRO, NOW)
    uses_pro = {"attribute": "segment", "operator": "is", "value": pro}
    active = segments.create("Active pro", uses_pro, NOW)
    with pytest.raises(InvalidValue, match="no segment"):
        segments.create("Ghost", {"attribute": "segment", "operator": "is", "value": "nope"}, NOW)
    with pytest.raises(InvalidValue, match="itself"):
        segments.change(pro, None, {"attribute": "segment", "operator": "is", "value": active}, NOW)
    with pytest.raises(InvalidValue, match="already named"):
        segments.create("pro", PRO, NOW)
    with pytest.raises(InvalidValue, match="used by Active pro"):
        segments.delete(pro, NOW)
    segments.delete(active, NOW)
    segments.delete(pro, NOW)
    assert segments.names == {}


def listed(client: FlaskClient, auth: dict[str, str], url: str) -> list[str]:
    response = client.get(url, headers=auth)
    assert response.status_code == 200, response.get_json()
    return sorted(u["user_id"] for u in response.get_json()["users"])


def test_membership_follows_the_users_without_any_rebuild(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    post(client, "/users", auth, {"user_id": "ann", "custom_attributes": {"plan": "pro"}})
    post(client, "/users", auth, {"user_id": "bob", "custom_attributes": {"plan": "free"}})
    created = post(client, "/segments", auth, {"name": "Pro plan", "filter": PRO})
    assert created.status_code == 200, created.get_json()
    segment = created.get_json()
    assert segment["type"] == "segment" and segment["name"] == "Pro plan"
    assert listed(client, auth, f"/users?segment_id={segment['id']}") == ["ann"]
    # Bob upgrades: he is in. Ann downgrades: she is out.
    post(client, "/users", auth, {"user_id": "bob", "custom_attributes": {"plan": "pro"}})
    post(client, "/users", auth, {"user_id": "ann", "custom_attributes": {"plan": "free"}})
    assert listed(client, auth, f"/users?segment_id={segment['id']}") == ["bob"]
    bob = client.get("/users?user_id=bob", headers=auth).get_json()
    assert bob["segments"]["segments"] == [
        {"type": "segment", "id": segment["id"], "name": "Pro plan"}
    ]
    counted = client.get(f"/segments/{segment['id']}?include_count=true", headers=auth)
    assert counted.get_json()["count"] == 1


def test_a_new_app_starts_with_the_three_default_segments_which_follow_the_clock(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    post(client, "/users", auth, {"user_id": "ann", "update_last_request_at": True})
    post(client, "/users", auth, {"user_id": "bob", "signed_up_at": 1})  # never seen
    found = client.get("/segments", headers=auth).get_json()["segments"]
    ids = {s["name"]: s["id"] for s in found}
    assert sorted(ids) == ["Active", "New", "Slipping away"]

    def members(name: str) -> list[str]:
        return listed(client, auth, f"/users?segment_id={ids[name]}")

    assert members("Active") == ["ann"] and members("Slipping away") == []
    services.clock.advance(days=31)  # type: ignore[attr-defined]
    assert members("Active") == [] and members("Slipping away") == ["ann"]
    # Defaults are the team's to delete, as any segment.
    assert client.delete(f"/segments/{ids['New']}", headers=auth).status_code == 200


def test_segments_list_rename_refilter_and_delete(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    post(client, "/users", auth, {"user_id": "ann", "custom_attributes": {"plan": "pro"}})
    pro = post(client, "/segments", auth, {"name": "Pro", "filter": PRO}).get_json()
    nested = {"all": [{"attribute": "segment", "operator": "is", "value": pro["id"]}]}
    power = post(client, "/segments", auth, {"name": "Power", "filter": nested}).get_json()
    assert listed(client, auth, f"/users?segment_id={power['id']}") == ["ann"]
    names = [s["name"] for s in client.get("/segments", headers=auth).get_json()["segments"]]
    assert names == ["Active", "New", "Power", "Pro", "Slipping away"]
    renamed = client.put(f"/segments/{pro['id']}", json={"name": "Pro plan"}, headers=auth)
    assert renamed.get_json()["name"] == "Pro plan"
    refiltered = client.put(
        f"/segments/{pro['id']}",
        json={"filter": {"attribute": "custom.plan", "operator": "is", "value": "free"}},
        headers=auth,
    )
    assert refiltered.status_code == 200
    assert listed(client, auth, f"/users?segment_id={power['id']}") == []
    in_use = client.delete(f"/segments/{pro['id']}", headers=auth)
    assert in_use.status_code == 400
    assert "used by Power" in in_use.get_json()["errors"][0]["message"]
    assert client.delete(f"/segments/{power['id']}", headers=auth).status_code == 200
    assert client.delete(f"/segments/{pro['id']}", headers=auth).status_code == 200
    left = client.get("/segments", headers=auth).get_json()["segments"]
    assert [s["name"] for s in left] == ["Active", "New", "Slipping away"]  # the defaults
    assert client.get(f"/segments/{pro['id']}", headers=auth).status_code == 404


def test_bad_segments_are_refused_and_change_nothing(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    head = services.store.head()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "X"}, "filter"),
        ({"filter": PRO}, "name"),
        (
            {"name": "X", "filter": {"attribute": "name", "operator": "gt", "value": 1}},
            "filter.operator",
        ),
        (
            {"name": "X", "filter": {"attribute": "segment", "operator": "is", "value": "no"}},
            "filter",
        ),
    ]
    for given, field in cases:
        response = post(client, "/segments", auth, given)
        assert response.status_code == 400, given
        assert response.get_json()["errors"][0]["field"] == field
    assert services.store.head() == head


def test_counts_in_the_intercom_shape(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    for name, plan in (("ann", "pro"), ("bob", "pro"), ("cyd", "free")):
        post(
            client,
            "/users",
            auth,
            {
                "user_id": name,
                "custom_attributes": {"plan": plan},
                "companies": [{"company_id": f"co-{plan}", "name": f"{plan.title()} Co"}],
            },
        )
    post(client, "/tags", auth, {"name": "PDF", "users": [{"user_id": "ann"}]})
    post(client, "/tags", auth, {"name": "Unused"})
    post(client, "/tags", auth, {"name": "Big", "companies": [{"company_id": "co-pro"}]})
    post(client, "/segments", auth, {"name": "Pro", "filter": PRO})

    def counts(query: str = "") -> Any:
        response = client.get(f"/counts{query}", headers=auth)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert counts() == {
        "type": "count",
        "company": {"count": 2},
        "segment": {"count": 4},  # the three defaults and Pro
        "tag": {"count": 3},
        "user": {"count": 3},
    }
    assert counts("?type=user&count=tag")["user"]["tag"] == [{"Big": 0}, {"PDF": 1}, {"Unused": 0}]
    # Users made by the REST API were never seen, and have no signup date here.
    assert counts("?type=user&count=segment")["user"]["segment"] == [
        {"Active": 0},
        {"New": 0},
        {"Pro": 2},
        {"Slipping away": 0},
    ]
    assert counts("?type=company&count=tag")["company"]["tag"] == [
        {"Big": 1},
        {"PDF": 0},
        {"Unused": 0},
    ]
    company_segments = counts("?type=company&count=segment")["company"]["segment"]
    assert {"Pro": 1} in company_segments and {"New": 0} in company_segments
    assert counts("?type=company&count=user")["company"]["user"] == [{"Free Co": 1}, {"Pro Co": 2}]
    assert client.get("/counts?type=user", headers=auth).status_code == 400
    company = client.get("/companies?company_id=co-pro", headers=auth).get_json()
    assert [t["name"] for t in company["tags"]["tags"]] == ["Big"]
    listed = client.get("/companies", headers=auth).get_json()["companies"]
    assert {c["company_id"]: len(c["tags"]["tags"]) for c in listed} == {"co-pro": 1, "co-free": 0}
