"""Per-message counts, as the stats projection holds them."""

from __future__ import annotations

from sqlalchemy import Connection, select

from projections.tables import message_stats

EMPTY = {"sent": 0, "delivered": 0, "viewed": 0}


def stats_of(conn: Connection, message_ids: list[str]) -> dict[str, dict[str, int]]:
    found = {i: dict(EMPTY) for i in message_ids}
    if message_ids:
        query = select(message_stats).where(message_stats.c.message_id.in_(message_ids))
        for row in conn.execute(query).mappings():
            found[row["message_id"]] = {k: int(row[k]) for k in EMPTY}
    return found
