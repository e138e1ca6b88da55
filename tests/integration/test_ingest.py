"""Snippet ingest scenarios, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from commands.apps import CreatedApp, SetSecureMode, set_secure_mode
from commands.clock import ManualClock
from commands.errors import InvalidUserHash
from domain.app import user_hash
from queries.companies import find_company, total_monthly_spend
from queries.users import find_user
from tests.helpers import ping, user_rows
from web.bootstrap import Services


def test_user_id_wins_and_an_email_change_keeps_one_user(
    services: Services, app: CreatedApp
) -> None:
    ping(services, app.app_id, {"user_id": "9876", "email": "john@example.com"})
    ping(services, app.app_id, {"user_id": "9876", "email": "john.doe@example.com"})
    rows = user_rows(services, app.app_id)
    assert [(r["user_id"], r["email"]) for r in rows] == [("9876", "john.doe@example.com")]


def test_a_user_known_by_email_keeps_their_record_when_a_user_id_arrives(
    services: Services, app: CreatedApp
) -> None:
    ping(services, app.app_id, {"email": "ann@example.com", "name": "Ann"})
    ping(services, app.app_id, {"email": "ann@example.com", "user_id": "17"})
    ping(services, app.app_id, {"user_id": "17"})
    (row,) = user_rows(services, app.app_id)
    assert (row["user_id"], row["email"], row["name"]) == ("17", "ann@example.com", "Ann")
    assert row["impressions"] == 3


def test_an_email_only_ping_finds_a_user_created_with_a_user_id(
    services: Services, app: CreatedApp
) -> None:
    ping(services, app.app_id, {"user_id": "5", "email": "bob@example.com"})
    ping(services, app.app_id, {"email": "BOB@example.com"})
    (row,) = user_rows(services, app.app_id)
    assert row["impressions"] == 2


def test_created_at_custom_data_and_companies_are_recorded_with_types(
    services: Services, app: CreatedApp
) -> None:
    ping(
        services,
        app.app_id,
        {
            "user_id": "123",
            "email": "bob@example.com",
            "created_at": "2012-10-17T09:47:00Z",
            "subdomain": "intercom",
            "teammates": 4,
            "paid": True,
            "last_order_at": 1350466020,
            "custom_domain": None,
            "company": {
                "id": 6,
                "name": "Intercom",
                "plan": "Messaging",
                "monthly_spend": 50,
                "created_at": 1350466020,
                "seats": 12,
            },
        },
    )
    ping(services, app.app_id, {"user_id": "124", "company": {"id": 6}})
    ping(services, app.app_id, {"user_id": "125", "company": {"id": "7", "monthly_spend": 25.5}})
    (row, *_rest) = user_rows(services, app.app_id)
    assert row["signed_up_at"] == 1350467220
    assert row["custom_attributes"] == {
        "subdomain": "intercom",
        "teammates": 4,
        "paid": True,
        "last_order_at": 1350466020,
        "custom_domain": None,
    }
    with services.engine.connect() as conn:
        company = find_company(conn, app.app_id, company_id="6")
        assert company is not None
        assert (company["name"], company["plan"], company["monthly_spend"]) == (
            "Intercom",
            "Messaging",
            50.0,
        )
        assert company["remote_created_at"] == 1350466020
        assert company["custom_attributes"] == {"seats": 12}
        assert company["user_count"] == 2
        assert total_monthly_spend(conn, app.app_id) == 75.5
        user = find_user(conn, app.app_id, now=services.clock.now(), user_id="123")
        assert user is not None
        assert [c["company_id"] for c in user["companies"]] == ["6"]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"user_id": "1", "created_at": "last tuesday"}, "created_at"),
        ({"user_id": "1", "renewal_at": "soon"}, "custom_data.renewal_at"),
        ({"user_id": "1", "prefs": {"a": 1}}, "custom_data.prefs"),
        ({"user_id": "1", "company": {"name": "no id"}}, "id"),
        ({"user_id": "1", "email": "not an email"}, "email"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    services: Services, app: CreatedApp, settings: dict, field: str
) -> None:
    head = services.store.head()
    with pytest.raises(ValidationError) as refused:
        ping(services, app.app_id, settings)
    assert field in str(refused.value.messages)
    assert services.store.head() == head


def test_sessions_follow_the_30_minute_rule_and_traffic_sources(
    services: Services, app: CreatedApp, clock: ManualClock
) -> None:
    who = {"user_id": "s1"}
    ping(services, app.app_id, who, referrer="https://news.ycombinator.com/")
    clock.advance(minutes=10)
    ping(
        services,
        app.app_id,
        who,
        url="https://app.example.com/settings",
        referrer="https://app.example.com/",
    )
    clock.advance(minutes=29)
    ping(services, app.app_id, who)
    assert user_rows(services, app.app_id)[0]["session_count"] == 1
    clock.advance(minutes=31)
    ping(services, app.app_id, who)
    assert user_rows(services, app.app_id)[0]["session_count"] == 2
    clock.advance(minutes=1)
    ping(services, app.app_id, who, url="https://app.example.com/?utm_source=newsletter")
    (row,) = user_rows(services, app.app_id)
    assert row["session_count"] == 3
    assert row["impressions"] == 5
    assert row["last_seen_at"] == int(clock.now().timestamp())
    assert row["last_url"] == "https://app.example.com/?utm_source=newsletter"
    assert row["last_seen_ip"] == "81.2.69.142"


def test_the_snippets_unsubscribe_overrides_manual_ones_in_the_user_list(
    services: Services, app: CreatedApp
) -> None:
    from commands.users import SaveUser, UserInput, save_user

    save_user(
        SaveUser(app.app_id, UserInput(user_id="u", unsubscribed=True)),
        services.store,
        services.clock,
    )
    assert user_rows(services, app.app_id)[0]["unsubscribed_from_emails"] is True
    ping(services, app.app_id, {"user_id": "u", "unsubscribed_from_emails": False})
    assert user_rows(services, app.app_id)[0]["unsubscribed_from_emails"] is False
    save_user(
        SaveUser(app.app_id, UserInput(user_id="u", unsubscribed=True)),
        services.store,
        services.clock,
    )
    assert user_rows(services, app.app_id)[0]["unsubscribed_from_emails"] is False


def test_secure_mode_refuses_pings_without_the_right_hash_and_records_nothing(
    services: Services, app: CreatedApp
) -> None:
    ping(services, app.app_id, {"user_id": "before"})  # the app is now held in memory
    set_secure_mode(SetSecureMode(app.app_id, True), services.store, services.clock)
    head = services.store.head()
    for bad in (None, "0" * 64, user_hash(app.secret, "someone-else")):
        with pytest.raises(InvalidUserHash):
            ping(services, app.app_id, {"user_id": "42", "user_hash": bad})
    # With a user_id the hash is over the user_id, not the email.
    with pytest.raises(InvalidUserHash):
        ping(
            services,
            app.app_id,
            {
                "user_id": "42",
                "email": "a@example.com",
                "user_hash": user_hash(app.secret, "a@example.com"),
            },
        )
    assert services.store.head() == head
    ping(services, app.app_id, {"user_id": "42", "user_hash": user_hash(app.secret, "42")})
    ping(
        services,
        app.app_id,
        {"email": "e@example.com", "user_hash": user_hash(app.secret, "e@example.com")},
    )
    assert len(user_rows(services, app.app_id)) == 3
