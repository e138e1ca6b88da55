"""Companies with their user counts, and the app's total monthly spend; the dashboard's
company list (filtered, sorted, in keyset pages) and a company's users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, func, select

from domain.errors import InvalidValue
from domain.matching import fold
from projections.tables import companies, company_tags, tags, user_companies, users
from queries.users import Cursor, Page, keyset_after, storable, tags_of

Row = dict[str, Any]

user_count = (
    select(func.count())
    .where(user_companies.c.company_id == companies.c.id)
    .correlate(companies)
    .scalar_subquery()
    .label("user_count")
)


def list_companies(conn: Connection, app_id: str, page: int = 1, per_page: int = 50) -> Page:
    where = companies.c.app_id == app_id
    total = conn.execute(select(func.count()).select_from(companies).where(where)).scalar_one()
    rows = conn.execute(
        select(companies, user_count)
        .where(where)
        .order_by(companies.c.created_at.desc(), companies.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return Page(_with_tags(conn, [dict(r) for r in rows]), total, page, per_page)


def find_company(
    conn: Connection,
    app_id: str,
    *,
    id: str | None = None,
    company_id: str | None = None,
    name: str | None = None,
) -> Row | None:
    query = select(companies, user_count).where(companies.c.app_id == app_id)
    if id is not None:
        query = query.where(companies.c.id == id)
    elif company_id is not None:
        query = query.where(companies.c.company_id == company_id)
    elif name is not None:
        query = query.where(companies.c.name == name)
    else:
        return None
    row = conn.execute(query.limit(1)).mappings().first()
    return _with_tags(conn, [dict(row)])[0] if row else None


def _with_tags(conn: Connection, rows: list[Row]) -> list[Row]:
    found = tags_of(conn, company_tags, "company_id", [r["id"] for r in rows])
    return [{**r, "tags": found[r["id"]]} for r in rows]


def total_monthly_spend(conn: Connection, app_id: str) -> float:
    spend = conn.execute(
        select(func.coalesce(func.sum(companies.c.monthly_spend), 0.0)).where(
            companies.c.app_id == app_id
        )
    ).scalar_one()
    return float(spend)


# -- the dashboard's list: filter, sort, keyset pages -----------------------------------

# What the list sorts by; name, spend and remote creation may be empty (listed last).
COMPANY_SORTS = ("name", "monthly_spend", "user_count", "created_at", "remote_created_at")
NUMERIC_SORTS = {"monthly_spend", "user_count", "created_at", "remote_created_at"}
# Never empty, these read straight off an index (created_at: companies_app_created).
NULLABLE_SORTS = {"name", "monthly_spend", "remote_created_at"}


@dataclass(frozen=True)
class CompanyFilter:
    """Which of the app's companies a list shows; None means any."""

    name: str | None = None  # starts with, in any (ASCII) case
    plan: str | None = None  # is, in any (ASCII) case
    min_spend: float | None = None
    max_spend: float | None = None
    tag_id: str | None = None
    custom: ColumnElement[bool] | None = None  # a custom-data condition, compiled

    @property
    def narrows(self) -> bool:
        return any(value is not None for value in self.__dict__.values())


@dataclass(frozen=True)
class CompanyListing:
    items: list[Row]
    total: int  # companies matching
    spend: float  # their monthly spend together
    page: int
    per_page: int
    next: Cursor | None


def _folded(column: Any, postgres: bool) -> ColumnElement[Any]:
    # As the user filter folds (queries/audience/sql.py): ASCII letters only, on both databases.
    return func.lower(column.collate("C") if postgres else column)


def _matching(app_id: str, wanted: CompanyFilter, postgres: bool) -> ColumnElement[bool]:
    c = companies.c
    parts: list[ColumnElement[bool]] = [c.app_id == app_id]
    if wanted.name is not None:
        parts.append(_folded(c.name, postgres).startswith(fold(wanted.name), autoescape=True))
    if wanted.plan is not None:
        parts.append(_folded(c.plan, postgres) == fold(wanted.plan))
    if wanted.min_spend is not None:
        parts.append(c.monthly_spend >= wanted.min_spend)
    if wanted.max_spend is not None:
        parts.append(c.monthly_spend <= wanted.max_spend)
    if wanted.tag_id is not None:
        tagged = company_tags.c
        parts.append(exists().where(tagged.company_id == c.id, tagged.tag_id == wanted.tag_id))
    if wanted.custom is not None:
        parts.append(wanted.custom)
    return and_(*parts)


def _members_by_company(app_id: str) -> Any:
    """How many users each of the app's companies has (those with any), counted at once:
    sorting by a count made company by company reads the memberships one company at a time."""
    m = user_companies.c
    counted = select(m.company_id, func.count().label("members"))
    return counted.where(m.app_id == app_id).group_by(m.company_id).subquery("members")


def _checked(cursor: Cursor, sort: str) -> Cursor:
    """A cursor whose value can be compared with the sort column (it came from a URL)."""
    value = cursor.value
    if sort in NUMERIC_SORTS:
        fits = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    else:
        fits = value is None or isinstance(value, str)
    if not fits or (value is None and sort not in NULLABLE_SORTS):
        raise InvalidValue("after", "not a cursor of this list's order")
    if not all(storable(text) for text in (cursor.id, value) if isinstance(text, str)):
        raise InvalidValue("after", "not a cursor this list handed out")
    return cursor


def search_companies(
    conn: Connection,
    app_id: str,
    wanted: CompanyFilter,
    sort: str = "created_at",
    order: str = "desc",
    per_page: int = 50,
    after: Cursor | None = None,
) -> CompanyListing:
    """One page of the app's companies matching `wanted`, in order, with how many match and
    what they spend a month together."""
    matching = _matching(app_id, wanted, conn.dialect.name == "postgresql")
    counted = select(func.count(), func.coalesce(func.sum(companies.c.monthly_spend), 0.0))
    total, spend = conn.execute(counted.where(matching)).one()
    descending = order == "desc"
    if sort == "user_count":
        members = _members_by_company(app_id)
        column: Any = func.coalesce(members.c.members, 0)
        joined = companies.outerjoin(members, members.c.company_id == companies.c.id)
        query = select(companies, column.label("user_count")).select_from(joined)
    else:
        column = companies.c[sort]
        query = select(companies, user_count)
    query = query.where(matching)
    if after is not None:
        query = query.where(keyset_after(column, companies.c.id, _checked(after, sort), descending))
    first = column.desc() if descending else column.asc()
    if sort in NULLABLE_SORTS:
        first = first.nulls_last()
    key = companies.c.id.desc() if descending else companies.c.id.asc()
    found = conn.execute(query.order_by(first, key).limit(per_page + 1)).mappings()
    rows = [dict(r) for r in found]
    more = len(rows) > per_page
    rows = _with_last_seen(conn, _with_tags(conn, rows[:per_page]))
    page = after.page + 1 if after else 1
    following = Cursor(page, rows[-1][sort], rows[-1]["id"]) if more else None
    return CompanyListing(rows, int(total), float(spend), page, per_page, following)


def _with_last_seen(conn: Connection, rows: list[Row]) -> list[Row]:
    """When each company's users were last seen: the latest of them."""
    ids = [r["id"] for r in rows]
    seen: dict[str, int | None] = {}
    if ids:
        query = (
            select(user_companies.c.company_id, func.max(users.c.last_seen_at))
            .join(users, users.c.id == user_companies.c.user_id)
            .where(user_companies.c.company_id.in_(ids))
            .group_by(user_companies.c.company_id)
        )
        seen = dict(conn.execute(query).tuples().all())
    return [{**r, "last_seen_at": seen.get(r["id"])} for r in rows]


def company_members(conn: Connection, app_id: str, key: str, limit: int = 50) -> list[Row]:
    """The company's users most recently seen first (never seen last), at most `limit`."""
    query = (
        select(users)
        .join(user_companies, user_companies.c.user_id == users.c.id)
        .where(user_companies.c.company_id == key, users.c.app_id == app_id)
        .order_by(users.c.last_seen_at.desc().nulls_last(), users.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def plans(conn: Connection, app_id: str, limit: int = 200) -> list[str]:
    """The plans the app's companies are on, by name (suggestions for the filter)."""
    query = (
        select(companies.c.plan)
        .where(companies.c.app_id == app_id, companies.c.plan.is_not(None))
        .distinct()
        .order_by(companies.c.plan)
        .limit(limit)
    )
    return [str(p) for p in conn.execute(query).scalars()]


def company_tag_choices(conn: Connection, app_id: str) -> list[Row]:
    """The app's tags that some company has, by name."""
    used = exists().where(company_tags.c.tag_id == tags.c.id)
    query = select(tags.c.id, tags.c.name).where(tags.c.app_id == app_id, used)
    return [dict(r) for r in conn.execute(query.order_by(tags.c.name)).mappings()]


def company_member_ids(conn: Connection, company_key: str) -> list[str]:
    """Parley ids of the company's users now."""
    query = select(user_companies.c.user_id).where(user_companies.c.company_id == company_key)
    return list(conn.execute(query).scalars())
