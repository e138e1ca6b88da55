"""Whether one user matches a filter, in memory (auto messages decide per user with this).

`queries.audience.sql` answers the same question in SQL for many users; the rules both follow:
- strings compare ignoring the case of ASCII letters A-Z (nothing else is folded);
- numbers compare as 64-bit floats;
- dates are whole seconds since the epoch, UTC; "N days ago" counts from the clock's now,
  "exactly N days ago" and on/after/before a date are UTC calendar days;
- a value of another type than the condition tests (custom data) counts as no value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from domain.company import Company
from domain.filters import (
    ANY,
    BOOLEAN,
    COMPARISONS,
    DATE,
    NUMBER,
    SEGMENT,
    STRING,
    TAG,
    Condition,
    Filter,
    Group,
)
from domain.relationship import relationship_score
from domain.user import User
from domain.values import CustomValue, browser

DAY = 86_400
Text = TypeVar("Text", str, bytes)
ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class CompanyProfile:
    attributes: Mapping[str, Any]
    custom: Mapping[str, CustomValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """What filters can see of a user: standard attributes (dates as epoch seconds), custom
    data, tag ids and companies."""

    attributes: Mapping[str, Any]
    custom: Mapping[str, CustomValue] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    companies: tuple[CompanyProfile, ...] = ()
    events: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


Segments = Callable[[str], Filter | None]


def no_segments(_segment_id: str) -> Filter | None:
    return None


def fold(text: str) -> str:
    return text.translate(ASCII_FOLD)


def day_start(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())


def date_bounds(operator: str, value: Any, now: datetime) -> tuple[int | None, int | None]:
    """The [low, high) range of epoch seconds a date condition accepts (None: unbounded)."""
    now_s = int(now.timestamp())
    if operator == "more_than_days_ago":
        return None, now_s - value * DAY
    if operator == "less_than_days_ago":
        return now_s - value * DAY + 1, None
    if operator == "exactly_days_ago":
        start = now_s // DAY * DAY - value * DAY
        return start, start + DAY
    start = day_start(value)
    if operator == "on":
        return start, start + DAY
    if operator == "after":
        return start + DAY, None
    return None, start  # before


def typed(kind: str, value: Any) -> Any:
    """The value if it has the condition's type, else None (no value)."""
    if value is None or kind == ANY:
        return value
    if kind == STRING:
        return value if isinstance(value, str) else None
    if kind == BOOLEAN:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if kind == DATE else float(value)


def text_holds(operator: str, have: Text, want: Text) -> bool:
    """A positive string operator on folded text (or its UTF-8 bytes: the audience index)."""
    if operator == "is":
        return have == want
    if operator == "starts_with":
        return have.startswith(want)
    if operator == "ends_with":
        return have.endswith(want)
    return want in have


def holds(c: Condition, value: Any, now: datetime) -> bool:
    """The positive operator on a value of the right type (never None)."""
    op = c.operator
    if op == "known":
        return True
    if c.kind == STRING:
        return text_holds(op, fold(value), fold(c.value))
    if c.kind == NUMBER:
        return COMPARISONS[op](value, c.value)
    if c.kind == BOOLEAN:
        return bool(value is c.value)
    low, high = date_bounds(op, c.value, now)
    return (low is None or value >= low) and (high is None or value < high)


def _positive(c: Condition, profile: Profile, now: datetime, segments: Segments) -> bool:
    if c.kind == TAG:
        return c.value in profile.tags
    if c.kind == SEGMENT:
        definition = segments(c.value)
        return definition is not None and matches(definition, profile, now, segments)
    if c.scope.startswith("event."):
        part = c.scope.removeprefix("event.")
        stats = profile.events.get(c.name, {})
        value = stats.get(part, 0 if part == "count" else None)
        return value is not None and holds(c, typed(c.kind, value), now)
    if c.scope == "company":
        return any(
            _holds_on(c, company.attributes, company.custom, now) for company in profile.companies
        )
    if c.name == "relationship_score":
        score = relationship_score(
            profile.attributes.get("last_message_sent_at"),
            profile.attributes.get("last_message_received_at"),
            int(now.timestamp()),
        )
        return holds(c, float(score), now)
    return _holds_on(c, profile.attributes, profile.custom, now)


def _holds_on(
    c: Condition, attributes: Mapping[str, Any], custom: Mapping[str, CustomValue], now: datetime
) -> bool:
    raw = custom.get(c.name) if c.custom else attributes.get(c.name)
    value = typed(c.kind, raw)
    return value is not None and holds(c, value, now)


def matches(f: Filter, profile: Profile, now: datetime, segments: Segments = no_segments) -> bool:
    """Whether the user this profile describes is in the filter's audience at `now`."""
    if isinstance(f, Group):
        results = (matches(part, profile, now, segments) for part in f.parts)
        return all(results) if f.mode == "all" else any(results)
    return _positive(f, profile, now, segments) != f.negated


def _seconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def profile_of(user: User, companies: Sequence[Company], live_tags: Collection[str]) -> Profile:
    """A user's profile from the aggregates themselves (auto messages decide on this).

    `live_tags` are the app's tags now: a deleted tag no longer counts for anyone.
    """
    attributes = {
        "email": user.email,
        "name": user.name,
        "user_id": user.user_id,
        "city": user.city,
        "country": user.country,
        "timezone": user.timezone,
        "browser": browser(user.user_agent) if user.user_agent is not None else None,
        "last_seen_ip": user.last_seen_ip,
        "last_url": user.last_url,
        "signed_up_at": user.signed_up_at,
        "created_at": _seconds(user.created_at),
        "last_seen_at": _seconds(user.last_seen_at),
        "last_request_at": _seconds(user.last_request_at),
        "session_count": user.session_count,
        "impressions": user.impressions,
        "unsubscribed_from_emails": user.unsubscribed_from_emails,
        "last_message_sent_at": user.last_message_sent_at,
        "last_message_received_at": user.last_message_received_at,
    }
    return Profile(
        attributes=attributes,
        custom=dict(user.custom),
        tags=frozenset(t for t in user.tags if t in live_tags),
        events={name: dict(stats) for name, stats in user.events.items()},
        companies=tuple(
            CompanyProfile(
                attributes={
                    "company_id": c.company_id,
                    "name": c.name,
                    "plan": c.plan,
                    "monthly_spend": c.monthly_spend,
                    "remote_created_at": c.remote_created_at,
                    "created_at": _seconds(c.created_at),
                },
                custom=dict(c.custom),
            )
            for c in companies
        ),
    )
