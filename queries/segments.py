"""Segments as the API lists them, who is in them right now, and counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from domain.filters import Filter, parse_filter
from projections.tables import segments, users
from queries.filters import user_filter

Row = dict[str, Any]


def definitions(conn: Connection, app_id: str) -> Callable[[str], Filter | None]:
    """The app's segments as a lookup for the SQL compiler (one query, then in memory)."""
    rows = conn.execute(
        select(segments.c.id, segments.c.definition).where(segments.c.app_id == app_id)
    ).all()
    found = {r.id: parse_filter(r.definition) for r in rows}
    return found.get


def list_segments(conn: Connection, app_id: str) -> list[Row]:
    query = select(segments).where(segments.c.app_id == app_id).order_by(segments.c.name)
    return [dict(r) for r in conn.execute(query).mappings()]


def find_segment(conn: Connection, app_id: str, segment_id: str) -> Row | None:
    query = select(segments).where(segments.c.app_id == app_id, segments.c.id == segment_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def segment_size(conn: Connection, app_id: str, segment_id: str, now: datetime) -> int:
    lookup = definitions(conn, app_id)
    definition = lookup(segment_id)
    if definition is None:
        return 0
    where = user_filter(definition, conn.dialect.name, now, lookup)
    query = select(func.count()).select_from(users).where(users.c.app_id == app_id, where)
    return int(conn.execute(query).scalar_one())


def segments_of(
    conn: Connection, app_id: str, user_ids: list[str], now: datetime
) -> dict[str, list[Row]]:
    """For each of these users, the segments they are in now (one query per segment)."""
    found: dict[str, list[Row]] = {i: [] for i in user_ids}
    if not user_ids:
        return found
    lookup = definitions(conn, app_id)
    for segment in list_segments(conn, app_id):
        where = user_filter(parse_filter(segment["definition"]), conn.dialect.name, now, lookup)
        members = conn.execute(select(users.c.id).where(users.c.id.in_(user_ids), where))
        for user in members.scalars():
            found[user].append({"id": segment["id"], "name": segment["name"]})
    return found
