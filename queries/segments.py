"""Segments as the API lists them, who is in them right now, and counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from domain.filters import Filter, parse_filter
from projections.tables import segments, users
from queries.audience.lifecycle import AudienceIndexes
from queries.audience.sql import user_filter

Row = dict[str, Any]


Lookup = Callable[[str], Filter | None]


def list_segments(conn: Connection, app_id: str) -> list[Row]:
    query = select(segments).where(segments.c.app_id == app_id).order_by(segments.c.name)
    return [dict(r) for r in conn.execute(query).mappings()]


def parsed_segments(conn: Connection, app_id: str) -> tuple[list[tuple[Row, Filter]], Lookup]:
    """The app's segments by name with their filters, and the lookup the SQL compiler takes
    for segments inside filters (one query, each definition parsed once)."""
    rows = list_segments(conn, app_id)
    parsed = {r["id"]: parse_filter(r["definition"]) for r in rows}
    return [(r, parsed[r["id"]]) for r in rows], parsed.get


def definitions(conn: Connection, app_id: str) -> Lookup:
    """The app's segments as a lookup for the SQL compiler."""
    return parsed_segments(conn, app_id)[1]


def find_segment(conn: Connection, app_id: str, segment_id: str) -> Row | None:
    query = select(segments).where(segments.c.app_id == app_id, segments.c.id == segment_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def segment_size(
    conn: Connection,
    app_id: str,
    segment_id: str,
    now: datetime,
    indexes: AudienceIndexes | None = None,
) -> int:
    """How many users are in the segment now (by the app's audience index when it has one)."""
    lookup = definitions(conn, app_id)
    definition = lookup(segment_id)
    if definition is None:
        return 0
    counted = indexes.count(conn, app_id, definition, now, lookup) if indexes else None
    if counted is not None:
        return counted
    where = user_filter(definition, conn.dialect.name, now, lookup, app_id)
    query = select(func.count()).select_from(users).where(users.c.app_id == app_id, where)
    return int(conn.execute(query).scalar_one())


def segments_of(
    conn: Connection, app_id: str, user_ids: list[str], now: datetime
) -> dict[str, list[Row]]:
    """For each of these users, the segments they are in now (one query per segment)."""
    found: dict[str, list[Row]] = {i: [] for i in user_ids}
    if not user_ids:
        return found
    found_segments, lookup = parsed_segments(conn, app_id)
    for segment, definition in found_segments:
        where = user_filter(definition, conn.dialect.name, now, lookup, app_id)
        members = conn.execute(select(users.c.id).where(users.c.id.in_(user_ids), where))
        for user in members.scalars():
            found[user].append({"id": segment["id"], "name": segment["name"]})
    return found
