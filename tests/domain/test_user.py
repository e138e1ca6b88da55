"""Given events, when a command, then new events: the user's rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidValue, MissingUserIdentifier
from domain.identity import email_key, user_id_key
from domain.user import User
from domain.values import custom_data, parse_timestamp, traffic_source

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new_user(**kwargs: object) -> User:
    given = {"app_id": "app1", "user_id": "42", "email": "ann@example.com", "at": T0}
    given.update(kwargs)
    return User(**given)  # type: ignore[arg-type]


def view(user: User, minutes: float, url: str = "https://app.example.com/", referrer: str = ""):
    user.record_page_view(
        T0 + timedelta(minutes=minutes), url, referrer or None, "81.2.69.142", "UA", "Europe/Paris"
    )


def test_user_is_keyed_by_user_id_when_given_else_by_email() -> None:
    assert new_user().id == user_id_key("app1", "42")
    assert new_user(user_id=None).id == email_key("app1", "ANN@example.com ")
    with pytest.raises(MissingUserIdentifier):
        new_user(user_id=None, email=None)


def test_first_view_starts_a_session_and_views_within_30_minutes_do_not() -> None:
    user = new_user()
    view(user, 0)
    view(user, 10)
    view(user, 39.9)
    assert user.session_count == 1
    assert user.impressions == 3


def test_thirty_idle_minutes_start_a_new_session() -> None:
    user = new_user()
    view(user, 0)
    view(user, 31)
    assert user.session_count == 2
    assert user.last_seen_at == T0 + timedelta(minutes=31)


def test_a_new_traffic_source_starts_a_new_session_but_internal_links_do_not() -> None:
    user = new_user()
    view(user, 0, referrer="https://news.ycombinator.com/item?id=1")
    view(user, 1, referrer="https://app.example.com/settings")
    view(user, 2, url="https://app.example.com/?utm_source=newsletter")
    view(user, 3, url="https://app.example.com/?utm_source=newsletter")
    view(user, 4, referrer="https://www.google.com/")
    assert user.session_count == 3
    assert user.session_source == "www.google.com"


def test_traffic_source_prefers_utm_source_over_referrer() -> None:
    assert traffic_source("https://a.com/?utm_source=Twitter", "https://b.com/") == "utm:twitter"
    assert traffic_source("https://a.com/x", "https://a.com/y") is None
    assert traffic_source("https://a.com/x", None) is None


def test_unchanged_attributes_record_no_event() -> None:
    user = new_user()
    user.update({"name": "Ann"}, {"plan": "pro"})
    user.collect_events()
    user.update({"name": "Ann", "email": "ann@example.com"}, {"plan": "pro"})
    assert user.collect_events() == []
    user.update({"name": "Ann B."}, {"plan": "pro", "teammates": 4})
    (changed,) = user.collect_events()
    assert changed.attributes == {"name": "Ann B."}  # type: ignore[attr-defined]
    assert changed.custom == {"teammates": 4}  # type: ignore[attr-defined]


def test_the_snippets_unsubscribe_overrides_manual_and_link_actions() -> None:
    user = new_user()
    user.set_unsubscribed(True, by="link")
    assert user.unsubscribed_from_emails is True
    user.set_unsubscribed(False, by="snippet")
    assert user.unsubscribed_from_emails is False
    user.set_unsubscribed(True, by="admin")
    assert user.unsubscribed_from_emails is False
    user.set_unsubscribed(True, by="snippet")
    assert user.unsubscribed_from_emails is True


def test_a_deleted_user_seen_again_starts_over() -> None:
    user = new_user()
    view(user, 0)
    user.update({"name": "Ann"}, {"plan": "pro"})
    user.delete(at=T0)
    assert user.deleted and user.custom == {}
    user.restore(app_id="app1", at=T0, user_id="42", email="new@example.com")
    assert not user.deleted
    assert (user.email, user.session_count, user.custom) == ("new@example.com", 0, {})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (1234567890, 1234567890),
        (1234567890.7, 1234567890),
        ("1234567890", 1234567890),
        ("2009-02-13T23:31:30Z", 1234567890),
        ("2009-02-13T23:31:30+00:00", 1234567890),
        ("2009-02-14T00:31:30+01:00", 1234567890),
        ("2009-02-13", 1234483200),
    ],
)
def test_created_at_accepts_unix_timestamps_and_iso_8601(given: object, expected: int) -> None:
    assert parse_timestamp("created_at", given) == expected


@pytest.mark.parametrize("given", ["yesterday", "13/02/2009", True, None, [], 1234567890123, -5])
def test_created_at_refuses_anything_else_naming_the_field(given: object) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_timestamp("created_at", given)
    assert refused.value.field == "created_at"


def test_custom_data_keeps_types_and_reads_at_keys_as_dates() -> None:
    values = custom_data(
        "custom",
        {
            "plan": "pro",
            "teammates": 4,
            "ratio": 0.5,
            "paid": True,
            "domain": None,
            "last_order_at": "2012-10-17T09:47:00Z",
        },
    )
    assert values == {
        "plan": "pro",
        "teammates": 4,
        "ratio": 0.5,
        "paid": True,
        "domain": None,
        "last_order_at": 1350467220,
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"nested": {"a": 1}}, "custom.nested"),
        ({"list": [1]}, "custom.list"),
        ({"renewal_at": "soon"}, "custom.renewal_at"),
        ({"a.b": 1}, "custom"),
        ({"long": "x" * 256}, "custom.long"),
    ],
)
def test_custom_data_refuses_what_it_cannot_filter_on(values: dict, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        custom_data("custom", values)
    assert refused.value.field == field
