"""Who a message is for, in words a teammate reads: a filter as the filter bar would say it
("Sessions more than 100 and Signed up more than 365 days ago"), chosen users by count or
name. The words follow web/static/filter-bar.js's labels; tags and segments by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from projections.tables import users
from queries.audience.catalogue import COMPANY_LABELS, USER_LABELS
from queries.segments import list_segments
from queries.tags import app_tags

OPERATORS = {
    "is": "is",
    "is_not": "is not",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "contains": "contains",
    "does_not_contain": "does not contain",
    "eq": "is",
    "ne": "is not",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "after": "after",
    "on": "on",
    "before": "before",
}
DAYS = {
    "more_than_days_ago": "more than {} days ago",
    "less_than_days_ago": "less than {} days ago",
    "exactly_days_ago": "exactly {} days ago",
}
EVENT_PARTS = {"count": "times done", "first_at": "first done", "last_at": "last done"}


@dataclass
class Names:
    """The app's tag and segment names by id."""

    tags: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)


def names_of(conn: Connection, app_id: str) -> Names:
    return Names(
        {t["id"]: t["name"] for t in app_tags(conn, app_id)},
        {s["id"]: s["name"] for s in list_segments(conn, app_id)},
    )


def label(attribute: str) -> str:
    if attribute.startswith("event."):
        name, _, part = attribute.removeprefix("event.").rpartition(".")
        return f"{name} · {EVENT_PARTS.get(part, part)}"
    if attribute.startswith("company.custom."):
        return "Company " + attribute.removeprefix("company.custom.")
    if attribute.startswith("company."):
        return COMPANY_LABELS.get(attribute.removeprefix("company."), attribute)
    if attribute.startswith("custom."):
        return attribute.removeprefix("custom.")
    return USER_LABELS.get(attribute, attribute)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"“{value}”" if isinstance(value, str) else str(value)


def condition_words(c: dict[str, Any], names: Names) -> str:
    attribute, operator, value = c.get("attribute", ""), c.get("operator", ""), c.get("value")
    if attribute == "tag":
        tag = names.tags.get(str(value))
        shown = f"“{tag}”" if tag is not None else "a deleted tag"
        return f"{'Not tagged' if operator == 'is_not' else 'Tagged'} {shown}"
    if attribute == "segment":
        segment = names.segments.get(str(value))
        shown = f"“{segment}”" if segment is not None else "a deleted segment"
        return f"{'Not in' if operator == 'is_not' else 'In'} segment {shown}"
    if operator in ("known", "unknown"):
        return f"{label(attribute)} is {operator}"
    if operator in DAYS:
        return f"{label(attribute)} {DAYS[operator].format(value)}"
    return f"{label(attribute)} {OPERATORS.get(operator, operator)} {_value(value)}"


def filter_words(f: dict[str, Any], names: Names, nested: bool = False) -> str:
    """A filter's JSON (as `domain.filters.to_json` writes it) in words."""
    for mode, joiner in (("all", " and "), ("any", " or ")):
        if mode in f:
            parts = [filter_words(p, names, True) for p in f[mode]]
            if not parts:
                return "every user"
            said = joiner.join(parts)
            return f"({said})" if nested and len(parts) > 1 else said
    return condition_words(f, names)


def named(conn: Connection, keys: list[str]) -> dict[str, str]:
    """Users by key as a list names them: name, else email, else user_id."""
    if not keys:
        return {}
    query = select(users.c.id, users.c.name, users.c.email, users.c.user_id)
    found = conn.execute(query.where(users.c.id.in_(keys))).all()
    return {
        r.id: str(r.name or r.email or r.user_id) for r in found if r.name or r.email or r.user_id
    }


def audience_words(
    conn: Connection,
    app_id: str,
    row: dict[str, Any],
    names: Names | None = None,
    people: dict[str, str] | None = None,
) -> str:
    """A listed message's audience: "Jo Bloggs", "3 chosen users", "Everyone matching …"
    (`people`: the names of the lone recipients of the rows being shown, found at once)."""
    if row.get("chosen") is not None:
        first = row.get("first_recipient")
        if row["chosen"] == 1 and first:
            found = (people if people is not None else named(conn, [first])).get(first)
            if found is not None:
                return found
        n = row["chosen"]
        return f"{n:,} chosen user{'' if n == 1 else 's'}"
    audience = row.get("audience")
    if not audience or audience in ({"all": []}, {"any": []}):
        return "Everyone"
    return "Everyone matching " + filter_words(audience, names or names_of(conn, app_id))
