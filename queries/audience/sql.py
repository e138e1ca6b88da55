"""Filters in SQL over the users projection: the same answers as `domain.matching`, for
many users at once (lists, counts, manual messages to a filter's result)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

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
)
from domain.matching import date_bounds, fold, holds
from domain.relationship import RELATIONSHIP_MONTH
from projections.tables import companies, user_companies, user_events, user_tags, users

Segments = Callable[[str], Filter | None]
# json_each's types (SQLite) and jsonb_typeof's (PostgreSQL) for each kind of custom value.
SQLITE_TYPES = {STRING: ("text",), NUMBER: ("integer", "real"), DATE: ("integer", "real")}
SQLITE_TYPES[BOOLEAN] = ("true", "false")
PG_TYPES = {STRING: "string", NUMBER: "number", DATE: "number", BOOLEAN: "boolean"}


# What a 64-bit integer column holds: a bound beyond it cannot even be sent to the database.
LARGEST_WHOLE = 2**63 - 1


def _whole(op: str, value: ColumnElement[Any], bound: float) -> ColumnElement[Any]:
    """The same comparison against a whole-number column, with a whole-number bound: an
    integer column compared with a float is cast row by row and no index serves it. A bound
    past what the column can hold decides alone: every value is below it, or above."""
    if abs(bound) > LARGEST_WHOLE:
        above = bound > 0  # the bound lies above every value the column holds
        holds_all = (op in ("lt", "lte") and above) or (op in ("gt", "gte") and not above)
        return value.is_not(None) if holds_all else false()
    if op == "eq":
        return value == int(bound) if bound.is_integer() else false()
    if op == "gt":
        return value > math.floor(bound)
    if op == "gte":
        return value >= math.ceil(bound)
    if op == "lt":
        return value < math.ceil(bound)
    return value <= math.floor(bound)  # lte


def _never_null(c: Condition) -> bool:
    """EXISTS tests (tags, companies, tracked events) are true or false, never NULL; left
    bare, PostgreSQL plans them as semi- and anti-joins."""
    return c.kind == TAG or c.scope == "company" or c.scope.startswith("event.")


class Compiler:
    """Turns a filter into a WHERE clause on `users` for one dialect and one moment."""

    def __init__(
        self, dialect: str, now: datetime, segments: Segments, app_id: str | None = None
    ) -> None:
        self.postgres = dialect == "postgresql"
        self.app_id = app_id
        self.now = now
        self.segments = segments
        self._expanding: set[str] = set()

    def where(self, f: Filter) -> ColumnElement[bool]:
        if isinstance(f, Condition):
            positive = self._positive(f)
            if not f.negated and f.kind != STRING:
                # Left NULL where unknown: WHERE drops NULL as it drops FALSE, and AND and OR
                # keep that (NULL lies between FALSE and TRUE), so indexes still serve it.
                return positive
            # NOT NULL is NULL, and an unknown value's negation is a match: coalesce. Strings
            # are wrapped even unnegated: folded strings have no statistics, and bare, the
            # planner guesses a pattern matches almost nobody and sorts every match for a
            # page instead of walking the list's index (168 ms against 9 at 1M users).
            if not _never_null(f):
                positive = func.coalesce(positive, false())
            return not_(positive) if f.negated else positive
        parts = [self.where(part) for part in f.parts]
        if not parts:  # plain TRUE: the unfiltered list is recognised (queries/users.py)
            return true() if f.mode == "all" else false()
        if f.mode == "all":
            return and_(true(), *parts)
        return or_(false(), *parts)

    def _related(self, user_id: Any, *criteria: Any) -> ColumnElement[Any]:
        """Users with a row in a related table (tags, companies, events) meeting `criteria`.

        PostgreSQL plans a correlated EXISTS as a semi join (an anti join under NOT), hashing
        the related rows once. SQLite would run it once per user, so there it is an IN over
        the related rows, computed once into a temporary index (user ids are never NULL, so
        NOT IN means what NOT EXISTS does)."""
        if self.postgres:
            return exists().where(user_id == users.c.id, *criteria)
        # `id || ''` keeps SQLite from fetching every listed user by primary key (and sorting
        # them): it walks the list's own index and probes the set instead.
        return users.c.id.concat("").in_(select(user_id).where(*criteria))

    def _positive(self, c: Condition) -> ColumnElement[Any]:
        if c.kind == TAG:
            return self._related(user_tags.c.user_id, user_tags.c.tag_id == c.value)
        if c.kind == SEGMENT:
            return self._segment(c.value)
        if c.scope.startswith("event."):
            return self._event(c)
        if c.scope == "company":
            value = self._value(c, companies.c, companies.c.custom_attributes)
            return self._related(
                user_companies.c.user_id,
                companies.c.id == user_companies.c.company_id,
                self._holds(c, value),
            )
        return self._holds(c, self._value(c, users.c, users.c.custom_attributes))

    def _event(self, c: Condition) -> ColumnElement[Any]:
        """EXISTS / NOT EXISTS over the user's stats for that event (semi and anti joins):
        users who never did it have a count of 0 and no dates."""
        part = c.scope.removeprefix("event.")
        stat = user_events.c[part]
        never = 0.0 if part == "count" else None
        # Correlated on PostgreSQL; on SQLite (see _related) the app's rows by its index.
        app = users.c.app_id if self.postgres else self.app_id
        if app is None:  # an uncorrelated set over every app: user ids are unique anyway
            named = user_events.c.name == c.name
        else:
            named = and_(user_events.c.app_id == app, user_events.c.name == c.name)
        if never is not None and holds(c, never, self.now):
            return ~self._related(user_events.c.user_id, named, not_(self._holds(c, stat)))
        return self._related(user_events.c.user_id, named, self._holds(c, stat))

    def _segment(self, segment_id: str) -> ColumnElement[Any]:
        definition = self.segments(segment_id)
        if definition is None or segment_id in self._expanding:
            return false()
        self._expanding.add(segment_id)
        try:
            return self.where(definition)
        finally:
            self._expanding.discard(segment_id)

    def _value(self, c: Condition, columns: Any, custom: Any) -> ColumnElement[Any]:
        """The attribute's value when it has the condition's type, else NULL."""
        if c.scope == "user" and c.name == "relationship_score":
            return relationship_expression(self.postgres, self.now)
        if not c.custom:
            return columns[c.name]
        if self.postgres:
            return self._pg_custom(c, custom)
        return self._sqlite_custom(c, custom)

    def _pg_custom(self, c: Condition, custom: Any) -> ColumnElement[Any]:
        node = custom.op("->")(literal(c.name))
        text = custom.op("->>")(literal(c.name))
        kind = func.jsonb_typeof(node)
        if c.kind == ANY:
            return case((kind != "null", text))
        if c.kind in (NUMBER, DATE):
            return case((kind == PG_TYPES[c.kind], cast(text, Float)))
        if c.kind == BOOLEAN:
            return case((kind == "boolean", text == "true"))
        return case((kind == "string", text))

    def _sqlite_custom(self, c: Condition, custom: Any) -> ColumnElement[Any]:
        # json_each, not json_extract: SQLite's JSON paths miss keys written with escapes
        # (any non-ASCII key) or quotes, which custom data allows.
        entry = func.json_each(custom).table_valued("key", "value", "type")
        if c.kind == ANY:
            typed = case((entry.c.type != "null", entry.c.value))
        elif c.kind in (NUMBER, DATE):
            typed = case((entry.c.type.in_(SQLITE_TYPES[c.kind]), cast(entry.c.value, Float)))
        elif c.kind == BOOLEAN:
            typed = case((entry.c.type.in_(SQLITE_TYPES[BOOLEAN]), entry.c.type == "true"))
        else:
            typed = case((entry.c.type == "text", entry.c.value))
        return select(typed).where(entry.c.key == c.name).scalar_subquery()

    def _fold(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        # lower() folds ASCII letters only, like domain.matching.fold: on SQLite always, on
        # PostgreSQL under the "C" collation (and ten times faster than translate()).
        return func.lower(value.collate("C") if self.postgres else value)

    def _holds(self, c: Condition, value: ColumnElement[Any]) -> ColumnElement[Any]:
        present = value.is_not(None)
        op = c.operator
        if op == "known":
            return present
        if c.kind == STRING:
            have, want = self._fold(value), fold(c.value)
            if op == "is":
                return have == want
            if op == "starts_with":
                return have.startswith(want, autoescape=True)
            if op == "ends_with":
                return have.endswith(want, autoescape=True)
            return have.contains(want, autoescape=True)
        if c.kind == NUMBER:
            if isinstance(value.type, Integer):
                return _whole(op, value, c.value)
            return COMPARISONS[op](value, c.value)
        if c.kind == BOOLEAN:
            return value == c.value
        low, high = date_bounds(op, c.value, self.now)
        bounds: list[ColumnElement[bool]] = [present]
        if low is not None:
            bounds.append(value >= low)
        if high is not None:
            bounds.append(value < high)
        return and_(*bounds)


def company_condition(c: Condition, dialect: str, now: datetime) -> ColumnElement[bool]:
    """One condition on a company's own attributes or custom data (`company.*`), as a WHERE
    clause on `companies` (the companies list's custom-data filter): the same typing and
    folding as a user list's `company.` conditions."""
    compiler = Compiler(dialect, now, no_segments)
    value = compiler._value(c, companies.c, companies.c.custom_attributes)
    positive = func.coalesce(compiler._holds(c, value), false())
    return not_(positive) if c.negated else positive


def relationship_expression(postgres: bool, now: datetime) -> ColumnElement[Any]:
    """domain.user.relationship_score in SQL, for filtering and sorting at `now`."""
    largest = func.greatest if postgres else func.max
    moment = int(now.timestamp())

    def half(column: Any) -> ColumnElement[Any]:
        elapsed = cast(largest(0, moment - column), BigInteger)
        months = elapsed // RELATIONSHIP_MONTH
        return case((column.is_(None), 0), else_=largest(0, 50 - 5 * months))

    return half(users.c.last_message_sent_at) + half(users.c.last_message_received_at)


def no_segments(_segment_id: str) -> Filter | None:
    return None


def user_filter(
    f: Filter,
    dialect: str,
    now: datetime,
    segments: Segments = no_segments,
    app_id: str | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause on `users` selecting exactly the users `f` matches at `now` (with
    `app_id`, related rows are looked up by the app's indexes; callers still restrict
    `users.app_id` themselves). It is NULL, not FALSE, for some users it does not match:
    use it in WHERE (alone or under AND / OR), never under NOT or as a value."""
    return Compiler(dialect, now, segments, app_id).where(f)


def matching_ids(
    conn: Connection,
    app_id: str,
    f: Filter,
    now: datetime,
    segments: Segments = no_segments,
) -> list[str]:
    """Ids of the app's users the filter matches, in no particular order."""
    return list(conn.execute(matching_query(conn, app_id, f, now, segments)).scalars())


def matching_query(
    conn: Connection,
    app_id: str,
    f: Filter,
    now: datetime,
    segments: Segments = no_segments,
) -> Select[tuple[str]]:
    """The select of the ids of the app's users the filter matches (callers may narrow it)."""
    where = user_filter(f, conn.dialect.name, now, segments, app_id)
    return select(users.c.id).where(users.c.app_id == app_id, where)
