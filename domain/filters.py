"""Filters: the users a team means ("signed up over a year ago, more than 100 sessions").

One definition, sent as JSON by the dashboard and the REST API:

    {"all": [{"attribute": "session_count", "operator": "gt", "value": 100},
             {"any": [{"attribute": "custom.plan", "operator": "is", "value": "pro"},
                      {"attribute": "company.monthly_spend", "operator": "gt", "value": 500}]}]}

Two evaluators read it and must agree: `domain.matching` over one user's state (auto
messages) and `queries.audience.sql` in SQL over the users projection (lists and counts).

Every negative operator is exactly NOT of its positive: `is_not` holds wherever `is` does
not, including users with no value at all; `unknown` is NOT `known`. On companies, a positive
condition holds when any of the user's companies satisfies it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.errors import InvalidValue
from domain.values import CUSTOM_KEY, MAX_STRING, is_date_key

STRING, NUMBER, DATE, BOOLEAN, TAG, SEGMENT = (
    "string",
    "number",
    "date",
    "boolean",
    "tag",
    "segment",
)
ANY = "any"  # custom data tested only for known / unknown: a value of any type

USER_ATTRIBUTES: dict[str, str] = {
    "email": STRING,
    "name": STRING,
    "user_id": STRING,
    "city": STRING,
    "country": STRING,
    "timezone": STRING,
    "browser": STRING,
    "last_seen_ip": STRING,
    "last_url": STRING,
    "signed_up_at": DATE,
    "created_at": DATE,
    "last_seen_at": DATE,
    "last_request_at": DATE,
    "last_message_sent_at": DATE,
    "last_message_received_at": DATE,
    "session_count": NUMBER,
    "impressions": NUMBER,
    "unsubscribed_from_emails": BOOLEAN,
    "relationship_score": NUMBER,  # computed at the moment of asking, never stored
}
COMPANY_ATTRIBUTES: dict[str, str] = {
    "company_id": STRING,
    "name": STRING,
    "plan": STRING,
    "monthly_spend": NUMBER,
    "remote_created_at": DATE,
    "created_at": DATE,
}

# Tracked events: `event.NAME.count` (0 for users who never did it), first_at, last_at.
EVENT_FIELDS: dict[str, str] = {"count": NUMBER, "first_at": DATE, "last_at": DATE}
MAX_EVENT_NAME = 255

# Each negative operator and the positive one it negates.
NEGATIONS = {"is_not": "is", "does_not_contain": "contains", "ne": "eq", "unknown": "known"}
PRESENCE = {"known", "unknown"}
OPERATORS: dict[str, set[str]] = {
    STRING: {"is", "is_not", "starts_with", "ends_with", "contains", "does_not_contain"},
    NUMBER: {"eq", "ne", "gt", "gte", "lt", "lte"},
    DATE: {
        "more_than_days_ago",
        "exactly_days_ago",
        "less_than_days_ago",
        "after",
        "on",
        "before",
    },
    BOOLEAN: {"is", "is_not"},
    TAG: {"is", "is_not"},
    SEGMENT: {"is", "is_not"},
}
# How each number operator compares: on Python values and on SQL expressions alike.
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
RELATIVE_DATES = {"more_than_days_ago", "exactly_days_ago", "less_than_days_ago"}
MAX_DAYS = 36_500
MAX_CONDITIONS = 100
MAX_DEPTH = 6


@dataclass(frozen=True)
class Condition:
    """One test of one attribute. `operator` is always positive; `negated` flips it."""

    attribute: str  # as written: "email", "custom.plan", "company.custom.seats", "tag"
    scope: str  # "user", "company", "tag", "segment" or "event.count|first_at|last_at"
    name: str  # the standard attribute or custom key within the scope
    custom: bool
    kind: str
    operator: str
    negated: bool
    value: Any  # str, float, bool, int (days), date, or None for known/unknown


@dataclass(frozen=True)
class Group:
    """All of the parts hold (`all`), or at least one does (`any`)."""

    mode: str
    parts: tuple[Filter, ...]


Filter = Condition | Group
EVERYONE = Group("all", ())


def parse_filter(data: Any, field: str = "filter") -> Filter:
    """Read the JSON form; an invalid part raises InvalidValue naming where it is."""
    counter = [0]
    return _parse(data, field, 0, counter)


def _parse(data: Any, field: str, depth: int, counter: list[int]) -> Filter:
    if not isinstance(data, dict):
        raise InvalidValue(field, "expected an object with all, any, or attribute")
    if depth > MAX_DEPTH:
        raise InvalidValue(field, f"groups nest at most {MAX_DEPTH} deep")
    groups = [mode for mode in ("all", "any") if mode in data]
    if groups:
        extra = set(data) - {groups[0]}
        if len(groups) > 1 or extra:
            raise InvalidValue(field, "a group has exactly one key, all or any")
        mode = groups[0]
        parts = data[mode]
        if not isinstance(parts, list):
            raise InvalidValue(f"{field}.{mode}", "expected a list of filters")
        return Group(
            mode,
            tuple(
                _parse(part, f"{field}.{mode}[{i}]", depth + 1, counter)
                for i, part in enumerate(parts)
            ),
        )
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise InvalidValue(field, f"a filter has at most {MAX_CONDITIONS} conditions")
    return parse_condition(data, field)


def parse_condition(data: dict[str, Any], field: str) -> Condition:
    unknown_keys = set(data) - {"attribute", "operator", "value"}
    if unknown_keys:
        raise InvalidValue(field, f"unexpected keys: {', '.join(sorted(map(str, unknown_keys)))}")
    attribute = data.get("attribute")
    if not isinstance(attribute, str) or not attribute:
        raise InvalidValue(f"{field}.attribute", "expected the name of an attribute")
    operator = data.get("operator")
    if not isinstance(operator, str):
        raise InvalidValue(f"{field}.operator", "expected an operator")
    scope, name, custom, kind = _attribute(attribute, operator, data.get("value"), field)
    if operator in PRESENCE:
        if scope in (TAG, SEGMENT):
            raise InvalidValue(f"{field}.operator", f"{scope} takes is or is_not")
        if data.get("value") is not None:
            raise InvalidValue(f"{field}.value", f"{operator} takes no value")
        return Condition(attribute, scope, name, custom, kind, "known", operator == "unknown", None)
    allowed = OPERATORS[kind] | (set() if kind in (TAG, SEGMENT) else PRESENCE)
    if operator not in allowed:
        raise InvalidValue(
            f"{field}.operator",
            f"{operator!r} does not apply to {kind} {attribute!r}; "
            f"use one of {', '.join(sorted(allowed))}",
        )
    value = _value(kind, operator, data.get("value"), f"{field}.value")
    positive = NEGATIONS.get(operator, operator)
    return Condition(attribute, scope, name, custom, kind, positive, operator != positive, value)


def _attribute(attribute: str, operator: str, value: Any, field: str) -> tuple[str, str, bool, str]:
    """(scope, name, custom, kind) of an attribute path."""
    if attribute in (TAG, SEGMENT):
        return attribute, attribute, False, attribute
    if attribute.startswith("event."):
        name, _, part = attribute.removeprefix("event.").rpartition(".")
        if not name or len(name) > MAX_EVENT_NAME or part not in EVENT_FIELDS:
            raise InvalidValue(
                f"{field}.attribute", "tracked events are event.NAME.count, .first_at or .last_at"
            )
        return f"event.{part}", name, False, EVENT_FIELDS[part]
    scope, rest = "user", attribute
    if attribute.startswith("company."):
        scope, rest = "company", attribute.removeprefix("company.")
    if rest.startswith("custom."):
        key = rest.removeprefix("custom.")
        if not CUSTOM_KEY.match(key):
            raise InvalidValue(f"{field}.attribute", f"{key!r} is not a custom attribute name")
        return scope, key, True, _custom_kind(key, operator, value, field)
    standard = USER_ATTRIBUTES if scope == "user" else COMPANY_ATTRIBUTES
    if rest not in standard:
        raise InvalidValue(
            f"{field}.attribute",
            f"unknown attribute {attribute!r}; custom data is custom.NAME, companies' company.NAME",
        )
    return scope, rest, False, standard[rest]


def _custom_kind(key: str, operator: str, value: Any, field: str) -> str:
    """Custom data has the type its values have; the condition says which type it tests."""
    if is_date_key(key):
        return DATE
    if operator in PRESENCE:
        return ANY
    if operator in OPERATORS[NUMBER]:
        return NUMBER
    if operator in OPERATORS[DATE]:
        raise InvalidValue(f"{field}.operator", "date operators apply to keys ending in _at")
    if operator in ("is", "is_not") and isinstance(value, bool):
        return BOOLEAN
    return STRING


def _value(kind: str, operator: str, value: Any, field: str) -> Any:
    if kind in (STRING, TAG, SEGMENT):
        if not isinstance(value, str):
            raise InvalidValue(field, f"expected a string for {operator}")
        if "\x00" in value:
            raise InvalidValue(field, "strings cannot contain NUL characters")
        if len(value) > MAX_STRING:
            raise InvalidValue(field, f"strings are limited to {MAX_STRING} characters")
        return value
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(field, f"expected a number for {operator}")
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidValue(field, "numbers must be finite")
        return float(value)
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise InvalidValue(field, "expected true or false")
        return value
    if operator in RELATIVE_DATES:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
            raise InvalidValue(field, f"expected a whole number of days, 0 to {MAX_DAYS}")
        return value
    if not isinstance(value, str):
        raise InvalidValue(field, "expected a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(field, f"{value!r} is not a date as YYYY-MM-DD") from None


def conditions(f: Filter) -> list[Condition]:
    """Every condition in a filter, in order."""
    if isinstance(f, Condition):
        return [f]
    return [c for part in f.parts for c in conditions(part)]


def to_json(f: Filter) -> dict[str, Any]:
    """The JSON form again, as `parse_filter` reads it."""
    if isinstance(f, Group):
        return {f.mode: [to_json(part) for part in f.parts]}
    operator = next((n for n, p in NEGATIONS.items() if p == f.operator), None)
    written = operator if f.negated and operator else f.operator
    value = f.value.isoformat() if isinstance(f.value, date) else f.value
    if f.kind == NUMBER and isinstance(value, float) and value.is_integer():
        value = int(value)
    found: dict[str, Any] = {"attribute": f.attribute, "operator": written}
    if f.operator != "known":
        found["value"] = value
    return found
