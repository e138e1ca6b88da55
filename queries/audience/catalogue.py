"""What the filter bar offers: every attribute a condition may test, with its type, so the
dashboard can offer the operators that fit it and the right kind of value box.

Standard user and company attributes come from `domain.filters`; custom keys (and whether
their values are text, numbers, booleans or dates) from the app's most recently seen users
and companies, read from a bounded sample so an app of a million users answers in
milliseconds; tracked event names by a loose index scan of `user_events`; tags and segments
by name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, text

from domain.filters import BOOLEAN, COMPANY_ATTRIBUTES, DATE, NUMBER, STRING, USER_ATTRIBUTES
from domain.values import is_date_key
from projections.tables import companies, users
from queries.segments import list_segments
from queries.tags import app_tags

SAMPLE_USERS = 2000  # the newest users whose custom keys the filter bar offers
SAMPLE_COMPANIES = 500
MAX_EVENTS = 300

USER_LABELS = {
    "email": "Email",
    "name": "Name",
    "user_id": "User id",
    "city": "City",
    "country": "Country",
    "timezone": "Time zone",
    "browser": "Browser",
    "last_seen_ip": "Last IP address",
    "last_url": "Last page seen",
    "signed_up_at": "Signed up",
    "created_at": "First seen by Parley",
    "last_seen_at": "Last seen",
    "last_request_at": "Last request",
    "last_message_sent_at": "Last message sent",
    "last_message_received_at": "Last heard from",
    "session_count": "Sessions",
    "impressions": "Page views",
    "unsubscribed_from_emails": "Unsubscribed from emails",
    "relationship_score": "Relationship score",
}
COMPANY_LABELS = {
    "company_id": "Company id",
    "name": "Company name",
    "plan": "Company plan",
    "monthly_spend": "Company monthly spend",
    "remote_created_at": "Company created",
    "created_at": "Company first seen",
}


@dataclass
class Catalogue:
    """The filter bar's choices, as the page hands them to its script (JSON)."""

    groups: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    segments: list[dict[str, str]] = field(default_factory=list)

    def custom_keys(self) -> list[str]:
        """The users' custom keys, for the columns a teammate may add to the list."""
        found = next((g for g in self.groups if g["label"] == "Custom data"), None)
        return [a["path"].removeprefix("custom.") for a in found["attributes"]] if found else []

    def as_json(self) -> dict[str, Any]:
        return {"groups": self.groups, "tags": self.tags, "segments": self.segments}


def kind_of_values(key: str, values: Counter[str]) -> str:
    """A custom key's type as the filter tests it: dates by name (`*_at`), else the type most
    of its values have."""
    if is_date_key(key):
        return DATE
    return values.most_common(1)[0][0] if values else STRING


def _value_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return None


def _custom(docs: list[Any], prefix: str, label: str) -> dict[str, Any]:
    kinds: dict[str, Counter[str]] = {}
    for doc in docs:
        for key, value in (doc or {}).items():
            seen = kinds.setdefault(key, Counter())
            kind = _value_kind(value)
            if kind is not None:
                seen[kind] += 1
    attributes = [
        {"path": f"{prefix}custom.{key}", "label": key, "kind": kind_of_values(key, seen)}
        for key, seen in sorted(kinds.items(), key=lambda item: item[0].casefold())
    ]
    return {"label": label, "attributes": attributes}


def event_names(conn: Connection, app_id: str) -> list[str]:
    """The app's tracked event names, in order: one index probe per name (a loose index
    scan), not a pass over every user's counts."""
    query = text(
        """
        WITH RECURSIVE found(name) AS (
            SELECT (SELECT min(name) FROM user_events WHERE app_id = :app_id)
            UNION ALL
            SELECT (SELECT min(name) FROM user_events WHERE app_id = :app_id AND name > found.name)
            FROM found WHERE found.name IS NOT NULL
        )
        SELECT name FROM found WHERE name IS NOT NULL LIMIT :limit
        """
    )
    return [str(n) for n in conn.execute(query, {"app_id": app_id, "limit": MAX_EVENTS}).scalars()]


def company_custom_keys(conn: Connection, app_id: str) -> list[dict[str, str]]:
    """The companies' custom keys with their types (`company.custom.KEY` paths), from the
    newest companies."""
    newest = (
        select(companies.c.custom_attributes)
        .where(companies.c.app_id == app_id)
        .order_by(companies.c.created_at.desc(), companies.c.id.desc())
        .limit(SAMPLE_COMPANIES)
    )
    found: list[dict[str, str]] = _custom(list(conn.execute(newest).scalars()), "company.", "")[
        "attributes"
    ]
    return found


def catalogue(conn: Connection, app_id: str) -> Catalogue:
    found = Catalogue()
    found.groups.append(
        {
            "label": "User",
            "attributes": [
                {"path": name, "label": USER_LABELS.get(name, name), "kind": kind}
                for name, kind in USER_ATTRIBUTES.items()
            ],
        }
    )
    # In the order of the users_app_last_seen_at index (SQLite puts NULLs last by itself).
    seen = users.c.last_seen_at.desc()
    if conn.dialect.name == "postgresql":
        seen = seen.nulls_last()
    newest_users = (
        select(users.c.custom_attributes)
        .where(users.c.app_id == app_id)
        .order_by(seen, users.c.id.desc())
        .limit(SAMPLE_USERS)
    )
    found.groups.append(_custom(list(conn.execute(newest_users).scalars()), "", "Custom data"))
    standard = [
        {"path": f"company.{name}", "label": COMPANY_LABELS.get(name, name), "kind": kind}
        for name, kind in COMPANY_ATTRIBUTES.items()
    ]
    company_custom = company_custom_keys(conn, app_id)
    found.groups.append({"label": "Company", "attributes": standard})
    if company_custom:
        found.groups.append({"label": "Company data", "attributes": company_custom})
    events = [
        {"path": f"event.{name}.{part}", "label": f"{name} · {label}", "kind": kind}
        for name in event_names(conn, app_id)
        for part, label, kind in (
            ("count", "times done", NUMBER),
            ("last_at", "last done", DATE),
            ("first_at", "first done", DATE),
        )
    ]
    if events:
        found.groups.append({"label": "Tracked events", "attributes": events})
    found.tags = app_tags(conn, app_id)
    found.segments = [{"id": r["id"], "name": r["name"]} for r in list_segments(conn, app_id)]
    return found
