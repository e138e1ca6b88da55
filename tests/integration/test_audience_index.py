"""The audience index (queries/audience/), on SQLite and PostgreSQL: it follows what
the projections change (deletes and restores, a tag deleted, a company's spend, custom data,
tracked events), and GET /users takes its counts once it is built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

import queries.users
from commands.apps import CreateApp, create_app
from commands.tags import DeleteTag, SaveTag, UserRef, delete_tag, save_tag
from commands.tracking import TrackEvent, track_event
from commands.users import CompanyInput, DeleteUser, SaveUser, UserInput, delete_user, save_user
from domain.filters import parse_filter
from projections.log import Log
from projections.rebuild import rebuild
from projections.runner import Runner
from projections.tables import user_tags
from projections.users import UsersProjection
from queries.audience.following import AudienceIndex
from queries.audience.lifecycle import AudienceIndexes
from queries.audience.sql import matching_ids
from queries.segments import definitions
from tests.helpers import post
from web.bootstrap import Services
from web.config import Config


def cond(attribute: str, operator: str, value: Any = None) -> dict[str, Any]:
    found = {"attribute": attribute, "operator": operator}
    return found if value is None else {**found, "value": value}


class Follower:
    """An index built while the app was empty, refreshed before each question."""

    def __init__(self, services: Services, app_id: str) -> None:
        self.services, self.app_id = services, app_id
        self.index = AudienceIndex(app_id)
        self.index.build(services.engine)

    def who(self, written: Any) -> set[str]:
        """User ids the index finds, checked against SQL's answer."""
        s = self.services
        s.runner.catch_up()
        f, now = parse_filter(written), s.clock.now()
        with s.engine.connect() as conn:
            self.index.refresh(conn, Log(s.store))
            lookup = definitions(conn, self.app_id)
            expected = set(matching_ids(conn, self.app_id, f, now, lookup))
        found = self.index.ids(f, now, lookup)
        assert found == expected, written
        assert self.index.count(f, now, lookup) == len(found)
        return {self._user_id(i) for i in found}

    def _user_id(self, key: str) -> str:
        with self.services.engine.connect() as conn:
            row = queries.users.find_user(conn, self.app_id, now=self.services.clock.now(), id=key)
        assert row is not None
        return str(row["user_id"])


def save(services: Services, app_id: str, user_id: str, **given: Any) -> None:
    user = UserInput(user_id=user_id, **given)
    save_user(SaveUser(app_id=app_id, user=user), services.store, services.clock)


def test_the_index_follows_deletes_restores_tags_companies_custom_data_and_events(
    services: Services,
) -> None:
    app_id = create_app(CreateApp("Followed"), services.store, services.clock).app_id
    follower = Follower(services, app_id)
    acme = [CompanyInput("acme", attributes={"monthly_spend": 100})]
    save(services, app_id, "ann", custom={"plan": "pro"}, companies=acme)
    save(services, app_id, "bob", custom={"plan": "free"})
    save(services, app_id, "cyd", custom={"plan": "Pro", "seats": 12})
    vip = save_tag(
        SaveTag(app_id, "VIP", users=[UserRef(user_id="ann"), UserRef(user_id="bob")]),
        services.store,
        services.clock,
    )
    for _ in range(2):
        track_event(TrackEvent(app_id, "invited", user_id="cyd"), services.store, services.clock)

    assert follower.who(cond("custom.plan", "is", "pro")) == {"ann", "cyd"}
    assert follower.who(cond("tag", "is", vip.id)) == {"ann", "bob"}
    assert follower.who(cond("company.monthly_spend", "gt", 500)) == set()
    assert follower.who(cond("event.invited.count", "gte", 2)) == {"cyd"}
    assert follower.who(cond("custom.seats", "unknown")) == {"ann", "bob"}

    delete_user(DeleteUser(app_id, ann_id(services, app_id)), services.store, services.clock)
    with services.engine.connect() as conn:
        tagged = list(conn.execute(select(user_tags.c.user_id).where(user_tags.c.tag_id == vip.id)))
    delete_tag(
        DeleteTag(app_id, vip.id, [r.user_id for r in tagged], []), services.store, services.clock
    )
    bigger = [CompanyInput("acme", attributes={"monthly_spend": 900})]
    save(services, app_id, "bob", companies=bigger)
    save(services, app_id, "cyd", custom={"plan": "free"})
    track_event(TrackEvent(app_id, "invited", user_id="bob"), services.store, services.clock)

    assert follower.who(cond("custom.plan", "is", "pro")) == set()
    assert follower.who(cond("tag", "is", vip.id)) == set()
    assert follower.who(cond("company.monthly_spend", "gt", 500)) == {"bob"}
    assert follower.who(cond("event.invited.count", "gte", 1)) == {"bob", "cyd"}
    assert follower.who({"all": []}) == {"bob", "cyd"}

    save(services, app_id, "ann", custom={"plan": "pro"})  # back again
    assert follower.who({"all": []}) == {"ann", "bob", "cyd"}
    assert follower.who(cond("custom.plan", "is", "pro")) == {"ann"}


def test_a_company_seen_after_its_members_joined_it_counts_for_them(services: Services) -> None:
    """The users projection may apply "ann joined acme" before the companies projection has
    acme: once acme arrives, the index reads its members again."""
    app_id = create_app(CreateApp("Ahead"), services.store, services.clock).app_id
    follower = Follower(services, app_id)
    save(services, app_id, "bob")
    follower.who({"all": []})
    acme = [CompanyInput("acme", attributes={"plan": "pro"})]
    save(services, app_id, "ann", companies=acme)
    ahead = Runner(services.store, services.runner.engine, [UsersProjection()])
    ahead.catch_up()  # users, not companies
    with services.engine.connect() as conn:
        follower.index.refresh(conn, Log(services.store))
    assert follower.who(cond("company.plan", "is", "pro")) == {"ann"}
    assert follower.who(cond("company.company_id", "unknown")) == {"bob"}


def test_numbers_too_large_for_a_float_are_refused_and_old_ones_do_not_break_the_index(
    client: FlaskClient, auth: dict[str, str], services: Services
) -> None:
    response = post(client, "/users", auth, {"user_id": "x", "custom_attributes": {"n": 10**400}})
    assert response.status_code == 400
    error = response.get_json()["errors"][0]
    assert error["field"] == "custom_attributes.n" and "64-bit float" in error["message"]
    # Stored before this check (commands take them): the index counts them as infinite.
    app_id = create_app(CreateApp("Huge"), services.store, services.clock).app_id
    follower = Follower(services, app_id)
    save(services, app_id, "ann", custom={"n": 10**400, "plan": "pro"})
    save(services, app_id, "bob", custom={"n": -(10**400), "plan": "pro"})
    assert follower.who(cond("custom.plan", "is", "pro")) == {"ann", "bob"}
    now, lookup = services.clock.now(), (lambda _id: None)
    bigger = parse_filter(cond("custom.n", "gt", 1e300))
    assert follower.index.count(bigger, now, lookup) == 1
    rebuilt = AudienceIndex(app_id)
    rebuilt.build(services.engine)
    assert rebuilt.count(bigger, now, lookup) == 1


def test_an_index_is_built_again_after_its_projection_is_rebuilt(services: Services) -> None:
    app_id = create_app(CreateApp("Rebuilt"), services.store, services.clock).app_id
    save(services, app_id, "ann", custom={"plan": "pro"})
    services.runner.catch_up()
    indexes = AudienceIndexes(services.engine, Log(services.store), 0, refresh_seconds=0)
    first = indexes.build(app_id)
    pro, now = parse_filter(cond("custom.plan", "is", "pro")), services.clock.now()
    with services.engine.connect() as conn:
        assert indexes.count(conn, app_id, pro, now, lambda _id: None) == 1
    rebuild(services.store, services.runner.engine, UsersProjection())
    with services.engine.connect() as conn:
        assert indexes.count(conn, app_id, pro, now, lambda _id: None) is None  # SQL counts
    second = indexes.build(app_id)
    assert second is not first
    with services.engine.connect() as conn:
        assert indexes.count(conn, app_id, pro, now, lambda _id: None) == 1
    indexes.stop()


def test_requests_leave_big_catch_ups_and_failures_to_sql(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_id = create_app(CreateApp("Behind"), services.store, services.clock).app_id
    indexes = AudienceIndexes(
        services.engine, Log(services.store), 0, refresh_seconds=0, request_limit=2
    )
    index = indexes.build(app_id)
    everyone, now = parse_filter({"all": []}), services.clock.now()
    for name in ("ann", "bob", "cyd"):
        save(services, app_id, name)
    services.runner.catch_up()
    with services.engine.connect() as conn:
        assert indexes.count(conn, app_id, everyone, now, lambda _id: None) is None
        index.refresh(conn, Log(services.store))  # what the refresher thread does
        assert indexes.count(conn, app_id, everyone, now, lambda _id: None) == 3

    def broken(*_args: Any, **_kwargs: Any) -> bool:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(AudienceIndex, "refresh", broken)
    with services.engine.connect() as conn:
        assert indexes.count(conn, app_id, everyone, now, lambda _id: None) is None
        assert indexes.ready(conn, app_id) is None  # dropped, and not built again at once
        assert indexes.count(conn, app_id, everyone, now, lambda _id: None) is None
    indexes.stop()


def ann_id(services: Services, app_id: str) -> str:
    with services.engine.connect() as conn:
        row = queries.users.find_user(conn, app_id, now=services.clock.now(), user_id="ann")
    assert row is not None
    return str(row["id"])


@pytest.fixture
def config(config: Config) -> Config:
    """Every app is large enough for an index."""
    return replace(config, audience_index_min_users=0)


@pytest.fixture
def counted_by_sql(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each count SQL makes (GET /users asks the index first)."""
    made: list[str] = []
    counting = queries.users.count_matching

    def count_matching(*args: Any) -> int:
        made.append(str(args[2]))
        return counting(*args)

    monkeypatch.setattr(queries.users, "count_matching", count_matching)
    yield made


def total(client: FlaskClient, auth: dict[str, str], f: Any) -> int:
    response = client.get(f"/users?filter={quote(json.dumps(f))}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["total_count"])


def test_get_users_counts_with_the_index_once_it_is_built(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
    app: Any,
    counted_by_sql: list[str],
) -> None:
    for name, plan in (("ann", "pro"), ("bob", "free"), ("cyd", "PRO")):
        services.clock.advance(seconds=1)  # type: ignore[attr-defined]
        post(client, "/users", auth, {"user_id": name, "custom_attributes": {"plan": plan}})
    pro = cond("custom.plan", "is", "pro")
    assert total(client, auth, pro) == 2  # SQL: the index is being built meanwhile
    assert len(counted_by_sql) == 1
    services.indexes.build(app.app_id)

    assert total(client, auth, pro) == 2
    services.clock.advance(seconds=1)  # type: ignore[attr-defined]
    post(client, "/users", auth, {"user_id": "dee", "custom_attributes": {"plan": "Pro"}})
    assert total(client, auth, pro) == 3  # the index re-read what the projection changed
    assert total(client, auth, {"all": []}) == 4
    # The first page comes from the index too, in the list's order; the next from SQL.
    path = f"/users?filter={quote(json.dumps(pro))}&sort=created_at&order=desc&per_page=2"
    first = client.get(path, headers=auth).get_json()
    assert [u["user_id"] for u in first["users"]] == ["dee", "cyd"]
    following = client.get(first["pages"]["next"], headers=auth).get_json()
    assert [u["user_id"] for u in following["users"]] == ["ann"]
    assert following["total_count"] == 3
    assert total(client, auth, cond("last_url", "known")) == 0  # last_url: SQL counts it
    assert len(counted_by_sql) == 2

    segment = post(client, "/segments", auth, {"name": "Pro", "filter": pro}).get_json()
    post(client, "/users", auth, {"user_id": "eve", "custom_attributes": {"plan": "pro"}})
    shown = client.get(f"/segments/{segment['id']}?include_count=true", headers=auth)
    assert shown.get_json()["count"] == 4
    counts = client.get("/counts?type=user&count=segment", headers=auth).get_json()
    assert {"Pro": 4} in counts["user"]["segment"]  # beside the three default segments
