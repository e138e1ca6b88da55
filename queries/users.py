"""Users as the dashboard and REST API see them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, func, literal, or_, select, true
from sqlalchemy.sql.elements import True_

from domain.errors import InvalidValue
from domain.relationship import relationship_score
from projections.tables import (
    companies,
    tags,
    user_companies,
    user_tags,
    users,
)
from queries.audience.following import app_size
from queries.audience.sql import relationship_expression
from queries.segments import segments_of

Row = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Row]
    total: int
    page: int
    per_page: int

    @property
    def total_pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages


def _with_companies(conn: Connection, rows: list[Row]) -> list[Row]:
    ids = [r["id"] for r in rows]
    found: dict[str, list[Row]] = {i: [] for i in ids}
    if ids:
        query = (
            select(
                user_companies.c.user_id, companies.c.id, companies.c.company_id, companies.c.name
            )
            .join(companies, companies.c.id == user_companies.c.company_id)
            .where(user_companies.c.user_id.in_(ids))
            .order_by(companies.c.company_id)
        )
        for member in conn.execute(query).mappings():
            found[member["user_id"]].append(
                {"id": member["id"], "company_id": member["company_id"], "name": member["name"]}
            )
    return [{**r, "companies": found[r["id"]]} for r in rows]


def find_user(
    conn: Connection,
    app_id: str,
    *,
    now: datetime,
    id: str | None = None,
    user_id: str | None = None,
    email: str | None = None,
) -> Row | None:
    """One user by Parley id, user_id or email (case-insensitive); None when absent."""
    query = select(users).where(users.c.app_id == app_id)
    if id is not None:
        query = query.where(users.c.id == id)
    elif user_id is not None:
        query = query.where(users.c.user_id == user_id)
    elif email is not None:
        query = query.where(func.lower(users.c.email) == email.strip().lower()).order_by(
            users.c.user_id.is_(None), users.c.created_at
        )
    else:
        return None
    row = conn.execute(query.limit(1)).mappings().first()
    return with_relations(conn, [dict(row)], now)[0] if row else None


def tags_of(conn: Connection, members: Table, owner: str, ids: list[str]) -> dict[str, list[Row]]:
    """The live tags of each of these users or companies (`members`: user_tags or
    company_tags, `owner`: its user_id or company_id column), by name."""
    found: dict[str, list[Row]] = {i: [] for i in ids}
    if ids:
        query = (
            select(members.c[owner], tags.c.id, tags.c.name)
            .join(tags, tags.c.id == members.c.tag_id)
            .where(members.c[owner].in_(ids))
            .order_by(tags.c.name)
        )
        for tagged in conn.execute(query).mappings():
            found[tagged[owner]].append({"id": tagged["id"], "name": tagged["name"]})
    return found


def _with_tags(conn: Connection, rows: list[Row]) -> list[Row]:
    found = tags_of(conn, user_tags, "user_id", [r["id"] for r in rows])
    return [{**r, "tags": found[r["id"]]} for r in rows]


def with_relations(conn: Connection, rows: list[Row], now: datetime) -> list[Row]:
    """User rows with their companies, (live) tags and segments now, as payloads show them."""
    rows = _with_tags(conn, _with_companies(conn, rows))
    if not rows:
        return rows
    found = segments_of(conn, rows[0]["app_id"], [r["id"] for r in rows], now)
    moment = int(now.timestamp())
    return [
        {
            **r,
            "segments": found[r["id"]],
            "relationship_score": relationship_score(
                r["last_message_sent_at"], r["last_message_received_at"], moment
            ),
        }
        for r in rows
    ]


# -- searching: filter, sort, keyset pages -----------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the row with this sort value and id."""

    page: int
    value: Any
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.page, self.value, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def decode(text: str) -> Cursor:
        try:
            page, value, key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            if not isinstance(page, int) or not isinstance(key, str):
                raise ValueError
        except (ValueError, TypeError):
            raise InvalidValue("after", "not a cursor this API handed out") from None
        return Cursor(page, value, key)


@dataclass(frozen=True)
class Listing:
    items: list[Row]
    total: int
    page: int
    per_page: int
    next: Cursor | None


def count_matching(conn: Connection, app_id: str, where: ColumnElement[bool]) -> int:
    """How many of the app's users `where` matches: unfiltered, the running count the users
    projection keeps; otherwise counted."""
    if isinstance(where, True_):
        return app_size(conn, app_id)
    matching = and_(users.c.app_id == app_id, where)
    return int(conn.execute(select(func.count()).select_from(users).where(matching)).scalar_one())


def keyset_after(column: Any, key: Any, cursor: Cursor, descending: bool) -> ColumnElement[bool]:
    """Rows after the cursor in the order (column NULLS LAST, key): values, then nulls."""
    beyond_id = key < cursor.id if descending else key > cursor.id
    if cursor.value is None:
        return and_(column.is_(None), beyond_id)
    # A bound value, not the literal: SQLAlchemy refuses `column < True` (a boolean sort).
    value = literal(cursor.value) if isinstance(cursor.value, bool) else cursor.value
    beyond = column < value if descending else column > value
    return or_(beyond, and_(column == value, beyond_id), column.is_(None))


BIGGEST = 2**63 - 1  # what a database integer holds


def _fitting(cursor: Cursor, column: Any) -> Cursor:
    """The cursor, when its value compares with the sort column (it came from a URL, so any
    JSON: an object, text for a number, a number past what the database holds)."""
    kind = column.type.python_type
    value = cursor.value
    if kind is bool:
        fits = isinstance(value, bool)
    elif kind is int:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        fits = number and abs(value) <= BIGGEST
    else:
        fits = isinstance(value, str) and storable(value)
    if not (value is None or fits) or not storable(cursor.id):
        raise InvalidValue("after", "not a cursor of this list's order")
    return cursor


def storable(text: str) -> bool:
    """Text a database can compare: no NUL, no lone surrogate (JSON can write both)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def search_users(
    conn: Connection,
    app_id: str,
    where: ColumnElement[bool],
    now: datetime,
    sort: str = "created_at",
    order: str = "desc",
    per_page: int = 50,
    after: Cursor | None = None,
    total: int | None = None,
    chosen: list[str] | None = None,
) -> Listing:
    """One page of the app's users matching `where`, in order, and how many match in all
    (`total` when the caller counted them already; `chosen`, the ids of the page and of the
    next user, in order, when the caller found them already)."""
    column = (
        relationship_expression(conn.dialect.name == "postgresql", now)
        if sort == "relationship_score"
        else users.c[sort]
    )
    descending = order == "desc"
    matching = and_(users.c.app_id == app_id, where)
    if total is None:
        total = count_matching(conn, app_id, where)
    query = select(users).where(matching)
    if after is not None:
        query = query.where(keyset_after(column, users.c.id, _fitting(after, column), descending))
    ordered = (
        (column.desc().nulls_last(), users.c.id.desc())
        if descending
        else (column.asc().nulls_last(), users.c.id.asc())
    )
    if chosen is None:
        found = conn.execute(query.order_by(*ordered).limit(per_page + 1)).mappings()
        rows = [dict(r) for r in found]
    else:
        read = select(users).where(users.c.app_id == app_id, users.c.id.in_(chosen))
        by_id = {r["id"]: dict(r) for r in conn.execute(read).mappings()}
        rows = [by_id[i] for i in chosen if i in by_id]
    page = after.page + 1 if after else 1
    more = len(rows) > per_page
    rows = rows[:per_page]
    rows = with_relations(conn, rows, now)
    following = Cursor(page, rows[-1][sort], rows[-1]["id"]) if more else None
    return Listing(rows, total, page, per_page, following)


def custom_keys(conn: Connection, app_id: str) -> set[str]:
    """Every custom attribute name the app's users have (checking message variables)."""
    if conn.dialect.name == "postgresql":
        names = func.jsonb_object_keys(users.c.custom_attributes)
        query = select(names).where(users.c.app_id == app_id).distinct()
    else:
        entry = func.json_each(users.c.custom_attributes).table_valued("key")
        query = (
            select(entry.c.key)
            .select_from(users)
            .join(entry, true())
            .where(users.c.app_id == app_id)
            .distinct()
        )
    return {str(k) for k in conn.execute(query).scalars()}
