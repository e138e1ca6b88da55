"""Users as the dashboard and REST API see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from projections.tables import companies, user_companies, users

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


def list_users(conn: Connection, app_id: str, page: int = 1, per_page: int = 50) -> Page:
    """Newest first, Intercom-style pages."""
    where = users.c.app_id == app_id
    total = conn.execute(select(func.count()).select_from(users).where(where)).scalar_one()
    rows = conn.execute(
        select(users)
        .where(where)
        .order_by(users.c.created_at.desc(), users.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return Page(_with_companies(conn, [dict(r) for r in rows]), total, page, per_page)


def find_user(
    conn: Connection,
    app_id: str,
    *,
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
    return _with_companies(conn, [dict(row)])[0] if row else None
