"""The user list's tools (issue 14): the search box, the filter bar's choices, saving a filter
as a segment, acting on ticked users or on all matching (tag, untag, export, delete after a
confirmation), the columns each teammate picks, and the tags and segments page."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from flask.testing import FlaskClient

from commands.apps import AddAdmin, CreateApp, CreatedApp, add_admin, create_app
from commands.tracking import TrackEvent, track_event
from domain.user import User
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate, token
from tests.helpers import basic, ping
from web.bootstrap import Services

PRO = {"attribute": "custom.plan", "operator": "is", "value": "pro"}


def people(services: Services, app_id: str) -> None:
    for user_id, name, plan in (
        ("ann", "Ann Lee", "pro"),
        ("anton", "Anton Berg", "free"),
        ("bob", "Bob Annan", "pro"),
        ("cyd", "Cyd <b>Sharp</b>", "pro"),
    ):
        settings = {
            "user_id": user_id,
            "name": name,
            "email": f"{user_id}@example.com",
            **{"plan": plan, "seats": 3, "beta": True, "trial_ends_at": 1_700_000_000},
        }
        ping(services, app_id, settings)
    services.runner.catch_up()


def signed_in(client: FlaskClient, services: Services, app: CreatedApp) -> str:
    teammate(services, app.app_id)
    people(services, app.app_id)
    assert sign_in(client, "ann@acme.io", PASSWORD).status_code == 302
    return f"/apps/{app.app_id}"


def page(client: FlaskClient, path: str, **query: Any) -> str:
    response = client.get(path, query_string=query or None)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def names(html: str) -> list[str]:
    return re.findall(r'<td class="name"[^>]*><a [^>]*><bdi>(.*?)</bdi>', html)


def form(client: FlaskClient, path: str, url: str, **fields: Any) -> Any:
    return client.post(url, data={"csrf_token": token(client, path), **fields})


def user_ids(client: FlaskClient, base: str, **query: Any) -> dict[str, str]:
    """Parley ids by name, as the list's tick boxes hold them."""
    html = page(client, f"{base}/users", **query)
    rows = re.findall(r'name="ids" value="([0-9a-f]+)" form="bulk" aria-label="Tick ([^"]+)"', html)
    return {name: key for key, name in rows}


def offered(client: FlaskClient, base: str) -> Any:
    """What the page hands the filter bar."""
    html = page(client, f"{base}/users")
    found = re.search(r'<script type="application/json" id="filter-catalogue">(.*?)</script>', html)
    assert found
    return json.loads(found.group(1))


def test_the_search_box_finds_names_and_emails_starting_with_what_was_typed(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    found = page(client, f"{base}/users", q="an", sort="name", order="asc")
    assert names(found) == ["Ann Lee", "Anton Berg"]  # not Bob Annan: starts-with only
    assert "2 users match" in found
    by_email = page(client, f"{base}/users", q="cyd@")
    assert names(by_email) == ["Cyd &lt;b&gt;Sharp&lt;/b&gt;"]
    # With a filter too: both hold.
    both = page(client, f"{base}/users", q="an", filter=json.dumps(PRO))
    assert names(both) == ["Ann Lee"]


def test_the_filter_bar_is_offered_every_attribute_with_its_type(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    s = services
    track_event(TrackEvent(app.app_id, "exported-report", user_id="ann"), s.store, s.clock)
    s.runner.catch_up()
    choices = offered(client, base)
    kinds = {a["path"]: a["kind"] for g in choices["groups"] for a in g["attributes"]}
    assert kinds["custom.plan"] == "string" and kinds["custom.seats"] == "number"
    assert kinds["custom.beta"] == "boolean" and kinds["custom.trial_ends_at"] == "date"
    assert kinds["last_seen_at"] == "date" and kinds["company.monthly_spend"] == "number"
    assert kinds["event.exported-report.count"] == "number"
    assert {s["name"] for s in choices["segments"]} == {"New", "Active", "Slipping away"}


def test_a_filtered_list_saved_as_a_segment_opens_as_that_segment(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    listing = f"{base}/users?filter={json.dumps(PRO)}"
    saved = form(client, listing, f"{base}/segments", name="Pro plan", filter=json.dumps(PRO))
    assert saved.status_code == 302
    target = parse_qs(urlsplit(saved.headers["Location"]).query)
    segment = json.loads(target["filter"][0])
    assert segment["attribute"] == "segment"
    shown = page(client, saved.headers["Location"])
    assert "Saved the segment “Pro plan”." in shown and "3 users match" in shown
    assert 'aria-current="page"><bdi>Pro plan</bdi>' in shown  # chosen at the side
    # A nameless segment, or one of every user, is refused and nothing is saved.
    nameless = form(client, listing, f"{base}/segments", name=" ", filter=json.dumps(PRO))
    assert "give the segment a name" in page(client, nameless.headers["Location"])
    everyone = form(client, listing, f"{base}/segments", name="All")
    assert "a segment needs a condition" in page(client, everyone.headers["Location"])
    listed = page(client, f"{base}/tags")
    assert names(listed).count("Pro plan") == 1  # saved once


def test_ticked_users_and_all_matching_are_tagged_and_untagged(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    ids = user_ids(client, base)
    listing = f"{base}/users"
    ticked = form(
        client, listing, f"{base}/users/bulk", action="tag", tag="VIP", ids=[ids["Ann Lee"]]
    )
    assert ticked.status_code == 302
    assert "Tagged 1 user “VIP”." in page(client, ticked.headers["Location"])
    every_pro = form(
        client,
        listing,
        f"{base}/users/bulk",
        action="tag",
        tag="Paying",
        scope="all",
        filter=json.dumps(PRO),
    )
    assert "Tagged 3 users “Paying”." in page(client, every_pro.headers["Location"])
    tags_page = page(client, f"{base}/tags")
    counts = dict(
        re.findall(r"<bdi>(\w+)</bdi></a></td>\s*<td class=\"num\">(\d+)</td>", tags_page)
    )
    assert counts["VIP"] == "1" and counts["Paying"] == "3"
    off = form(
        client, listing, f"{base}/users/bulk", action="untag", tag="Paying", ids=[ids["Bob Annan"]]
    )
    assert "Took the tag “Paying” off 1 user." in page(client, off.headers["Location"])
    unknown = form(
        client, listing, f"{base}/users/bulk", action="untag", tag="Nope", ids=[ids["Bob Annan"]]
    )
    assert "No tag is named “Nope”" in page(client, unknown.headers["Location"])
    nobody = form(client, listing, f"{base}/users/bulk", action="tag", tag="VIP")
    assert "Tick the users to act on first" in page(client, nobody.headers["Location"])


def test_another_apps_users_ticked_by_hand_are_left_alone(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    other = create_app(CreateApp("Other"), services.store, services.clock)
    add_admin(AddAdmin(other.app_id, "bob@other.io", "Bob"), services.store, services.clock)
    theirs = ping(services, other.app_id, {"user_id": "secret"}).user.id.hex
    done = form(client, f"{base}/users", f"{base}/users/bulk", action="delete", ids=[theirs])
    assert "Tick the users to act on first" in page(client, done.headers["Location"])
    posted = form(client, f"{base}/users", f"{base}/users/delete", ids=[theirs])
    assert "Deleted 0 users." in page(client, posted.headers["Location"])
    services.runner.catch_up()
    kept = services.store.get_as(User, UUID(hex=theirs))
    assert kept is not None and kept.deleted is False


def test_delete_asks_first_naming_the_count_then_deletes(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    asked = form(
        client,
        f"{base}/users",
        f"{base}/users/bulk",
        action="delete",
        scope="all",
        filter=json.dumps(PRO),
    )
    assert asked.status_code == 200
    confirm = asked.get_data(as_text=True)
    assert "Delete 3 users?" in confirm
    assert names(page(client, f"{base}/users", sort="name", order="asc")) == [
        "Ann Lee",
        "Anton Berg",
        "Bob Annan",
        "Cyd &lt;b&gt;Sharp&lt;/b&gt;",
    ]  # nothing deleted yet
    done = form(
        client, f"{base}/users", f"{base}/users/delete", scope="all", filter=json.dumps(PRO)
    )
    assert "Deleted 3 users." in page(client, done.headers["Location"])
    assert names(page(client, f"{base}/users")) == ["Anton Berg"]


def test_an_export_holds_the_ticked_users_or_all_matching(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    ids = user_ids(client, base)
    ticked = form(
        client,
        f"{base}/users",
        f"{base}/users/bulk",
        action="export",
        ids=[ids["Ann Lee"], ids["Bob Annan"]],
    )
    assert ticked.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(ticked.get_data(as_text=True))))
    assert sorted(r["user_id"] for r in rows) == ["ann", "bob"]
    matching = form(
        client,
        f"{base}/users",
        f"{base}/users/bulk",
        action="export",
        scope="all",
        q="an",
    )
    rows = list(csv.DictReader(io.StringIO(matching.get_data(as_text=True))))
    assert sorted(r["user_id"] for r in rows) == ["ann", "anton"]


def test_picked_columns_are_remembered_for_that_teammate_only(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    picked = form(client, f"{base}/users", f"{base}/users/columns", columns=["plan", "seats"])
    assert picked.status_code == 302
    html = page(client, f"{base}/users", sort="name", order="asc")
    assert re.findall(r'<th scope="col" class="custom"><bdi>(\w+)</bdi>', html) == ["plan", "seats"]
    assert '<td title="pro"><bdi>pro</bdi></td>' in html
    teammate(services, app.app_id, "eve@acme.io")
    client.post("/signout", data={"csrf_token": token(client, f"{base}/users")})
    sign_in(client, "eve@acme.io", PASSWORD)
    assert 'class="custom"' not in page(client, f"{base}/users")
    bad = form(client, f"{base}/users", f"{base}/users/columns", columns=["a$b"])
    assert "is not a custom attribute name" in page(client, bad.headers["Location"])


def test_tags_and_segments_are_renamed_and_deleted_and_a_used_segment_is_kept(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    ids = user_ids(client, base)
    form(
        client,
        f"{base}/users",
        f"{base}/users/bulk",
        action="tag",
        tag="VIP",
        ids=list(ids.values()),
    )
    form(client, f"{base}/users", f"{base}/segments", name="Pro", filter=json.dumps(PRO))
    tags_page = page(client, f"{base}/tags")
    segment_ids = {s["name"]: s["id"] for s in offered(client, base)["segments"]}
    assert set(segment_ids) >= {"Pro", "Active"}
    nested = {"attribute": "segment", "operator": "is", "value": segment_ids["Pro"]}
    form(client, f"{base}/users", f"{base}/segments", name="Power", filter=json.dumps(nested))
    refused = form(client, f"{base}/tags", f"{base}/segments/{segment_ids['Pro']}/delete")
    shown = page(client, refused.headers["Location"])
    assert "The segment was not deleted: segment is used by Power." in shown
    renamed = form(client, f"{base}/tags", f"{base}/segments/{segment_ids['Active']}", name="Live")
    assert "Renamed the segment to “Live”." in page(client, renamed.headers["Location"])
    tag_id = re.search(r"/tags/([0-9a-f]+)/delete", tags_page)
    assert tag_id
    gone = form(client, f"{base}/tags", f"{base}/tags/{tag_id.group(1)}/delete")
    assert "Deleted the tag “VIP” (it came off 4 users)." in page(client, gone.headers["Location"])
    assert "VIP" not in page(client, f"{base}/users")
    bookmarked = {"attribute": "tag", "operator": "is", "value": tag_id.group(1)}
    stale = page(client, f"{base}/users", filter=json.dumps(bookmarked))
    assert "This filter names a tag that was deleted, so that condition matches no one." in stale


def test_a_profile_adds_and_removes_tags_and_unsubscribes_and_deletes_its_user(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    ann = user_ids(client, base)["Ann Lee"]
    profile = f"{base}/users/{ann}"
    added = form(client, profile, f"{profile}/tags", name="<i>VIP</i>")
    shown = page(client, added.headers["Location"].split("#")[0])
    assert "Tagged “&lt;i&gt;VIP&lt;/i&gt;”." in shown
    assert "Tagged &lt;i&gt;VIP&lt;/i&gt; by Ann Admin" in shown  # its activity says who
    tag_id = re.search(r"/tags/([0-9a-f]+)/remove", shown)
    assert tag_id and 'aria-label="Remove the tag &lt;i&gt;VIP&lt;/i&gt;"' in shown
    removed = form(client, profile, f"{profile}/tags/{tag_id.group(1)}/remove")
    shown = page(client, removed.headers["Location"].split("#")[0])
    assert "Took the tag “&lt;i&gt;VIP&lt;/i&gt;” off." in shown and "No tags." in shown
    unsubscribed = form(client, profile, f"{profile}/subscription", unsubscribed="true")
    shown = page(client, unsubscribed.headers["Location"])
    assert "Unsubscribed from emails</span>" in shown and "Resubscribe to bulk email" in shown
    api = client.get("/users?user_id=ann", headers=basic(app)).get_json()
    assert api["unsubscribed_from_emails"] is True
    form(client, profile, f"{profile}/subscription", unsubscribed="false")
    assert "Unsubscribe from bulk email" in page(client, profile)
    asked = form(client, profile, f"{base}/users/bulk", action="delete", ids=[ann], back=profile)
    assert "Delete 1 user?" in asked.get_data(as_text=True)
    assert f'<a href="{profile}">Cancel</a>' in asked.get_data(as_text=True)
    form(client, profile, f"{base}/users/delete", ids=[ann])
    assert client.get(profile).status_code == 404
    # Another app's teammate cannot act on this user.
    other = create_app(CreateApp("Other"), services.store, services.clock)
    theirs = f"/apps/{other.app_id}/users/{ann}/tags"
    assert form(client, f"{base}/users", theirs, name="x").status_code == 404


def test_a_number_larger_than_any_column_holds_is_compared_not_a_crash(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    base = signed_in(client, services, app)
    for operator, expected in (("gt", "0 users match"), ("lt", "4 users match")):
        huge = {"attribute": "session_count", "operator": operator, "value": 10**26}
        shown = page(client, f"{base}/users", filter=json.dumps(huge))
        assert expected in shown
        api = client.get("/users", query_string={"filter": json.dumps(huge)}, headers=basic(app))
        assert api.status_code == 200
