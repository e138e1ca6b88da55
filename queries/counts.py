"""Counts for `GET /counts`: app totals, users per tag and segment, companies per tag and
segment, users per company."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select

from projections.tables import (
    companies,
    company_tags,
    segments,
    tags,
    user_companies,
    user_tags,
    users,
)
from queries.audience.lifecycle import AudienceIndexes
from queries.audience.sql import user_filter
from queries.segments import parsed_segments

Counted = list[tuple[str, int]]


def _count(conn: Connection, table: Table, app_id: str) -> int:
    query = select(func.count()).select_from(table).where(table.c.app_id == app_id)
    return int(conn.execute(query).scalar_one())


def app_counts(conn: Connection, app_id: str) -> dict[str, Any]:
    return {
        name: {"count": _count(conn, table, app_id)}
        for name, table in (
            ("company", companies),
            ("segment", segments),
            ("tag", tags),
            ("user", users),
        )
    }


def _per_tag(conn: Connection, app_id: str, members: Table, owner: str) -> Counted:
    query = (
        select(tags.c.name, func.count(members.c[owner]))
        .select_from(tags.outerjoin(members, members.c.tag_id == tags.c.id))
        .where(tags.c.app_id == app_id)
        .group_by(tags.c.id, tags.c.name)
        .order_by(tags.c.name)
    )
    return [(name, int(n)) for name, n in conn.execute(query).tuples()]


def _per_segment(
    conn: Connection,
    app_id: str,
    now: datetime,
    companies_too: bool,
    indexes: AudienceIndexes | None = None,
) -> Counted:
    found_segments, lookup = parsed_segments(conn, app_id)
    found: Counted = []
    for segment, definition in found_segments:
        if not companies_too and indexes is not None:
            counted = indexes.count(conn, app_id, definition, now, lookup)
            if counted is not None:
                found.append((segment["name"], counted))
                continue
        where = user_filter(definition, conn.dialect.name, now, lookup, app_id)
        members = select(users.c.id).where(users.c.app_id == app_id, where)
        if companies_too:
            query = select(func.count(func.distinct(user_companies.c.company_id))).where(
                user_companies.c.user_id.in_(members)
            )
        else:
            query = select(func.count()).select_from(members.subquery())
        found.append((segment["name"], int(conn.execute(query).scalar_one())))
    return found


def user_counts(
    conn: Connection,
    app_id: str,
    what: str,
    now: datetime,
    indexes: AudienceIndexes | None = None,
) -> Counted:
    """Users per tag or per segment (segments as they stand at `now`; by the app's audience
    index when it has one)."""
    if what == "tag":
        return _per_tag(conn, app_id, user_tags, "user_id")
    return _per_segment(conn, app_id, now, False, indexes)


def company_counts(conn: Connection, app_id: str, what: str, now: datetime) -> Counted:
    """Companies per tag, companies with a user in each segment, or users per company."""
    if what == "tag":
        return _per_tag(conn, app_id, company_tags, "company_id")
    if what == "segment":
        return _per_segment(conn, app_id, now, companies_too=True)
    query = (
        select(
            func.coalesce(companies.c.name, companies.c.company_id),
            func.count(user_companies.c.user_id),
        )
        .select_from(
            companies.outerjoin(user_companies, user_companies.c.company_id == companies.c.id)
        )
        .where(companies.c.app_id == app_id)
        .group_by(companies.c.id, companies.c.name, companies.c.company_id)
        .order_by(companies.c.company_id)
    )
    return [(name, int(n)) for name, n in conn.execute(query).tuples()]
