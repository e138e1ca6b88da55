"""The dashboard's companies (issue 14): the list with its exact total, sorted by a column,
filtered by plan, spend and tag from the URL, in keyset pages; a bad filter explained; a
company's page with its users and its custom data, escaped; another app's company not found."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from commands.apps import CreateApp, CreatedApp, create_app
from commands.clock import ManualClock
from queries.companies import find_company
from tests.e2e.test_dashboard import PASSWORD, sign_in, teammate
from tests.helpers import basic, ping, post, settle
from web.bootstrap import Services
from web.dashboard import companies as company_pages


def names(page: str) -> list[str]:
    """The companies listed, in order, by their name cells."""
    return re.findall(r'<td class="name"[^>]*><a [^>]*><bdi>([^<]*)</bdi>', page)


def signed_in(client: FlaskClient, services: Services, app: CreatedApp) -> None:
    teammate(services, app.app_id)
    sign_in(client, "ann@acme.io", PASSWORD)


def test_the_list_counts_sorts_and_filters_by_plan_spend_and_tag(
    client: FlaskClient, services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    auth = basic(app)
    for company_id, name, plan, spend in [
        ("1", "Acme", "pro", 500),
        ("2", "Globex", "free", 0),
        ("3", "Initech", "Pro", 1200.5),
        ("4", "Umbrella", "enterprise", None),
    ]:
        body = {"company_id": company_id, "name": name, "plan": plan, "monthly_spend": spend}
        assert post(client, "/companies", auth, body).status_code == 200
        clock.advance(days=1)
    tagged = post(client, "/tags", auth, {"name": "VIP", "companies": [{"company_id": "1"}]})
    other = create_app(CreateApp("Other"), services.store, services.clock)
    post(client, "/companies", basic(other), {"company_id": "9", "name": "Hooli"})
    signed_in(client, services, app)
    listed = f"/apps/{app.app_id}/companies"

    page = client.get(listed).get_data(as_text=True)
    assert "4 companies in all · 1,700.50 monthly spend" in page and "Hooli" not in page
    assert names(page) == ["Umbrella", "Initech", "Globex", "Acme"]  # newest first
    by_spend = client.get(listed, query_string={"sort": "monthly_spend", "order": "desc"})
    assert names(by_spend.get_data(as_text=True)) == ["Initech", "Acme", "Globex", "Umbrella"]
    by_name = client.get(listed, query_string={"sort": "name", "order": "asc"})
    assert names(by_name.get_data(as_text=True)) == ["Acme", "Globex", "Initech", "Umbrella"]

    paying = client.get(listed, query_string={"plan": "PRO", "min_spend": "400"})
    text = paying.get_data(as_text=True)
    assert paying.status_code == 200 and "2 companies match" in text
    assert sorted(names(text)) == ["Acme", "Initech"]
    cheap = client.get(listed, query_string={"max_spend": "600", "name": "ac"})
    assert names(cheap.get_data(as_text=True)) == ["Acme"]
    vip = client.get(listed, query_string={"tag": tagged.get_json()["id"]})
    assert names(vip.get_data(as_text=True)) == ["Acme"]
    none = client.get(listed, query_string={"min_spend": "5000"}).get_data(as_text=True)
    assert "0 companies match" in none and "No company matches these filters" in none


BAD_FILTERS = [
    ({"min_spend": "lots"}, "Monthly spend at least: Not a valid number. Correct it"),
    ({"min_spend": "900", "max_spend": "100"}, "Monthly spend at most: is below"),
    ({"name": "a\x00b"}, "Name starts with: cannot contain NUL characters"),
    ({"sort": "revenue"}, "Sort: Must be one of"),
    ({"tag": "nosuchtag"}, "Tag: no company has this tag"),
    ({"after": "garbage"}, "Page: not a cursor"),
]


def test_a_bad_filter_value_is_explained_not_a_500(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    signed_in(client, services, app)
    for query, said in BAD_FILTERS:
        refused = client.get(f"/apps/{app.app_id}/companies", query_string=query)
        text = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "This list cannot be shown" in text, query
        assert said in text, text
        assert f'value="{query.get("min_spend", "")}"' in text  # the form keeps what was typed


def test_keyset_pages_list_every_company_once_in_order(
    client: FlaskClient, services: Services, app: CreatedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(company_pages, "PER_PAGE", 2)
    auth = basic(app)
    spends: dict[str, Any] = {"a": 10, "b": 10, "c": None, "d": 10, "e": 5, "f": None, "g": 20}
    for name, spend in spends.items():
        post(client, "/companies", auth, {"company_id": name, "name": name, "monthly_spend": spend})
    signed_in(client, services, app)
    seen: list[str] = []
    url: str | None = f"/apps/{app.app_id}/companies?sort=monthly_spend&order=desc&plan=&x=1"
    while url:
        page = client.get(url).get_data(as_text=True)
        assert "7 companies in all" in page
        seen += names(page)
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert parse_qs(urlsplit(url).query)["sort"] == ["monthly_spend"]
    assert seen[0] == "g" and sorted(seen[1:4]) == ["a", "b", "d"] and seen[4] == "e"
    assert sorted(seen) == sorted(spends) and len(seen) == 7  # spend-less last, no repeats


def test_a_company_page_shows_its_users_and_data_escaped(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    company = {
        "id": "c-42",
        "name": "<script>alert(1)</script> Inc",
        "plan": "Scale",
        "monthly_spend": 99.5,
        "note": "<b>bold</b>",
        "seats": 12,
        "paid": True,
        "trial_ends_at": 1700000000,
    }
    ada = ping(services, app.app_id, {"user_id": "ada", "name": "Ada", "company": company})
    ping(services, app.app_id, {"user_id": "bob", "email": "bob@b.io", "company": {"id": "c-42"}})
    other = create_app(CreateApp("Other"), services.store, services.clock)
    ping(services, other.app_id, {"user_id": "x", "company": {"id": "c-42", "name": "Theirs"}})
    settle(client.application)
    signed_in(client, services, app)
    listed = client.get(f"/apps/{app.app_id}/companies").get_data(as_text=True)
    key = re.search(rf"/apps/{app.app_id}/companies/([0-9a-f]{{32}})", listed)
    assert key, listed

    page = client.get(f"/apps/{app.app_id}/companies/{key.group(1)}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; Inc" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold" not in text
    for kind in ("number", "boolean", "date", "text"):
        assert f'<span class="kind">{kind}</span>' in text
    assert "14 Nov 2023" in text  # trial_ends_at as a date
    assert f"/apps/{app.app_id}/users/{ada.user.id.hex}" in text and "bob@b.io" in text
    see = re.search(r'<a href="([^"]+)">See these users in the user list</a>', text)
    assert see, text
    users = client.get(see.group(1).replace("&amp;", "&"))
    shown = users.get_data(as_text=True)
    assert users.status_code == 200 and "2 users match" in shown and "bob@b.io" in shown

    went = client.get(f"/apps/{app.app_id}/companies/show", query_string={"company_id": "c-42"})
    assert went.status_code == 302 and went.headers["Location"].endswith(key.group(1))
    with services.engine.connect() as conn:
        their_company = find_company(conn, other.app_id, company_id="c-42")
    assert their_company and their_company["user_count"] == 1
    assert client.get(f"/apps/{app.app_id}/companies/{their_company['id']}").status_code == 404
    assert client.get(f"/apps/{other.app_id}/companies").status_code == 404
    assert client.get(f"/apps/{app.app_id}/companies/not-a-key").status_code == 404


def test_companies_are_filtered_by_their_custom_data_of_each_type(
    client: FlaskClient, services: Services, app: CreatedApp
) -> None:
    auth = basic(app)
    for company_id, industry, seats, self_serve in [
        ("1", "Fintech", 40, True),
        ("2", "fintech", 5, False),
        ("3", "Retail", 40, True),
    ]:
        custom = {"industry": industry, "seats": seats, "self_serve": self_serve}
        body = {"company_id": company_id, "name": f"Co {company_id}", "custom_attributes": custom}
        assert post(client, "/companies", auth, body).status_code == 200
    post(client, "/companies", auth, {"company_id": "4", "name": "Co 4"})
    signed_in(client, services, app)
    listed = f"/apps/{app.app_id}/companies"

    def named(**query: str) -> list[str]:
        answer = client.get(listed, query_string={"sort": "name", "order": "asc", **query})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return names(answer.get_data(as_text=True))

    assert named(custom_key="industry", custom_value="FINTECH") == ["Co 1", "Co 2"]
    assert named(custom_key="seats", custom_value="40") == ["Co 1", "Co 3"]
    assert named(custom_key="self_serve", custom_value="false") == ["Co 2"]
    assert named(custom_key="industry") == ["Co 1", "Co 2", "Co 3"]  # known, any value
    for query, message in (
        ({"custom_key": "nope"}, "no company has this custom attribute"),
        ({"custom_key": "seats", "custom_value": "lots"}, "is not a number"),
        ({"custom_key": "self_serve", "custom_value": "maybe"}, "write true or false"),
    ):
        refused = client.get(listed, query_string=query)
        assert refused.status_code == 400 and message in refused.get_data(as_text=True)
