"""Companies with their user counts, and the app's total monthly spend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from projections.tables import companies, company_tags, user_companies
from queries.users import Page, tags_of

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
