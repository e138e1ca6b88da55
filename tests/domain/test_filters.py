"""Filters: what each operator means, how bad filters are refused, and that SQL over the
projections and the in-memory evaluator over the aggregates pick exactly the same users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import InvalidValue
from domain.filters import parse_filter, to_json
from domain.matching import CompanyProfile, Profile, matches

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DAY = 86_400


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def match(f: dict[str, Any], profile: Profile, now: datetime = NOW) -> bool:
    return matches(parse_filter(f), profile, now)


def cond(attribute: str, operator: str, value: Any = None) -> dict[str, Any]:
    found = {"attribute": attribute, "operator": operator}
    if value is not None:
        found["value"] = value
    return found


def test_the_seeds_loyal_users_filter_matches_only_loyal_users() -> None:
    loyal = {
        "all": [
            cond("session_count", "gt", 100),
            cond("signed_up_at", "more_than_days_ago", 365),
        ]
    }
    veteran = Profile({"session_count": 150, "signed_up_at": seconds(NOW) - 400 * DAY})
    newcomer = Profile({"session_count": 150, "signed_up_at": seconds(NOW) - 20 * DAY})
    casual = Profile({"session_count": 3, "signed_up_at": seconds(NOW) - 400 * DAY})
    assert match(loyal, veteran)
    assert not match(loyal, newcomer)
    assert not match(loyal, casual)


def test_last_seen_more_than_30_days_ago_starts_to_match_as_time_passes() -> None:
    inactive = cond("last_seen_at", "more_than_days_ago", 30)
    user = Profile({"last_seen_at": seconds(NOW)})
    assert not match(inactive, user, NOW + timedelta(days=29))
    assert not match(inactive, user, NOW + timedelta(days=30))
    assert match(inactive, user, NOW + timedelta(days=30, seconds=1))
    assert not match(inactive, Profile({"last_seen_at": None}), NOW + timedelta(days=90))


def test_exactly_n_days_ago_and_calendar_dates_are_utc_days() -> None:
    late_yesterday = Profile({"last_seen_at": seconds(datetime(2026, 6, 14, 23, 59, tzinfo=UTC))})
    assert match(cond("last_seen_at", "exactly_days_ago", 1), late_yesterday)
    assert not match(cond("last_seen_at", "exactly_days_ago", 0), late_yesterday)
    assert match(cond("last_seen_at", "on", "2026-06-14"), late_yesterday)
    assert match(cond("last_seen_at", "before", "2026-06-15"), late_yesterday)
    assert not match(cond("last_seen_at", "after", "2026-06-14"), late_yesterday)
    assert match(cond("last_seen_at", "after", "2026-06-13"), late_yesterday)
    assert match(cond("last_seen_at", "less_than_days_ago", 1), late_yesterday)


def test_negative_operators_include_users_without_the_value() -> None:
    nameless, bob = Profile({"name": None}), Profile({"name": "Bob"})
    assert match(cond("name", "is_not", "Alice"), nameless)
    assert match(cond("name", "unknown"), nameless)
    assert not match(cond("name", "known"), nameless)
    assert not match(cond("name", "is_not", "bob"), bob)  # ASCII case is ignored
    assert match(cond("name", "does_not_contain", "x"), bob)


def test_strings_ignore_ascii_case_only() -> None:
    user = Profile({"city": "ÉVRY"})
    assert match(cond("city", "is", "Évry".upper()), user)
    assert match(cond("city", "starts_with", "Év".upper()), user)
    assert not match(cond("city", "is", "évry"), user)  # É is not an ASCII letter


def test_custom_data_is_tested_by_type() -> None:
    user = Profile({}, custom={"plan": "pro", "seats": 12, "paid": True, "trial_at": 1_000})
    assert match(cond("custom.plan", "is", "PRO"), user)
    assert match(cond("custom.seats", "gt", 10), user)
    assert not match(cond("custom.plan", "gt", 10), user)  # a string is no number
    assert match(cond("custom.paid", "is", True), user)
    assert not match(cond("custom.seats", "is", "12"), user)
    assert match(cond("custom.trial_at", "before", "1970-01-02"), user)
    assert match(cond("custom.anything", "unknown"), user)
    assert match(cond("custom.seats", "known"), user)


def test_company_conditions_hold_when_any_company_does() -> None:
    user = Profile(
        {},
        companies=(
            CompanyProfile({"name": "Acme", "monthly_spend": 50.0}),
            CompanyProfile({"name": "Globex", "monthly_spend": 900.0}, {"seats": 40}),
        ),
    )
    assert match(cond("company.monthly_spend", "gt", 500), user)
    assert match(cond("company.name", "is", "acme"), user)
    assert not match(cond("company.name", "is_not", "acme"), user)
    assert match(cond("company.custom.seats", "gte", 40), user)
    assert not match(cond("company.monthly_spend", "gt", 500), Profile({}))


def test_any_groups_and_tags() -> None:
    f = {"any": [cond("tag", "is", "t1"), cond("custom.plan", "is", "pro")]}
    assert match(f, Profile({}, tags=frozenset({"t1"})))
    assert match(f, Profile({}, custom={"plan": "pro"}))
    assert not match(f, Profile({}))
    assert match({"all": []}, Profile({}))
    assert not match({"any": []}, Profile({}))


@pytest.mark.parametrize(
    ("given", "field", "reason"),
    [
        ([], "filter", "expected an object"),
        ({"all": [cond("shoe_size", "is", "9")]}, "filter.all[0].attribute", "unknown attribute"),
        ({"any": [{"all": [cond("name", "gt", 3)]}]}, "filter.any[0].all[0].operator", "'gt'"),
        ({"all": [cond("session_count", "gt", "many")]}, "filter.all[0].value", "number"),
        ({"all": [cond("last_seen_at", "on", "yesterday")]}, "filter.all[0].value", "YYYY"),
        ({"all": [cond("last_seen_at", "more_than_days_ago", -1)]}, "filter.all[0].value", "days"),
        ({"all": [cond("name", "is", "a\x00b")]}, "filter.all[0].value", "NUL"),
        ({"all": [cond("name", "known", "x")]}, "filter.all[0].value", "no value"),
        ({"all": [], "any": []}, "filter", "exactly one key"),
        ({"all": [cond("custom.plan", "before", "2026-01-01")]}, "filter.all[0].operator", "_at"),
        ({"all": [cond("tag", "unknown")]}, "filter.all[0].operator", "is or is_not"),
    ],
)
def test_bad_filters_name_the_part_that_is_wrong(given: Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_filter(given)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_the_json_form_survives_a_round_trip() -> None:
    f = {
        "all": [
            cond("custom.plan", "is_not", "pro"),
            {"any": [cond("last_seen_at", "on", "2026-01-02"), cond("name", "unknown")]},
            cond("company.monthly_spend", "gte", 10),
        ]
    }
    assert to_json(parse_filter(f)) == f
