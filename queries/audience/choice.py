"""Which evaluator answers a user list: the app's audience index when it has one that can
evaluate the filter (the count, and for rare matches the first page's ids), else SQL. Both
give the same answers (tests/integration/test_audience_index.py); the index is only faster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_

from domain.filters import Filter
from queries.audience.evaluation import Segments
from queries.audience.lifecycle import AudienceIndexes
from queries.audience.sql import user_filter
from queries.users import Cursor, Listing, search_users


@dataclass(frozen=True)
class ListUsers:
    """One page of the users a filter matches, in order."""

    app_id: str
    audience: Filter
    sort: str = "created_at"
    order: str = "desc"
    per_page: int = 50
    after: Cursor | None = None
    among: ColumnElement[bool] | None = None  # only these users (a company's): SQL lists them
    count: bool = True  # False: the total is left at 0 (an export need not count)


def list_users(
    conn: Connection,
    asked: ListUsers,
    now: datetime,
    segments: Segments,
    indexes: AudienceIndexes | None,
) -> Listing:
    where = user_filter(asked.audience, conn.dialect.name, now, segments, asked.app_id)
    total: int | None = None if asked.count else 0
    chosen: list[str] | None = None
    if asked.among is not None:  # a few users (a company's): SQL lists and counts them
        where = and_(where, asked.among)
    elif asked.count and indexes is not None:
        first = None if asked.after else (asked.sort, asked.order == "desc", asked.per_page + 1)
        found = indexes.search(conn, asked.app_id, asked.audience, now, segments, first)
        if found is not None:
            total, chosen = found
    return search_users(
        conn,
        asked.app_id,
        where,
        now,
        asked.sort,
        asked.order,
        asked.per_page,
        asked.after,
        total,
        chosen,
    )
