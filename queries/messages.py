"""Per-message counts, as the stats projection holds them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from projections.message_stats import EMPTY
from projections.tables import deliveries, message_stats


def stats_of(conn: Connection, message_ids: list[str]) -> dict[str, dict[str, int]]:
    found = {i: dict(EMPTY) for i in message_ids}
    if message_ids:
        query = select(message_stats).where(message_stats.c.message_id.in_(message_ids))
        for row in conn.execute(query).mappings():
            found[row["message_id"]] = {k: int(row[k]) for k in EMPTY}
    return found


def deliveries_of(
    conn: Connection, message_id: str, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """A message's email deliveries in a stable order (by id), `limit` after `after`."""
    query = select(deliveries).where(deliveries.c.message_id == message_id)
    if after is not None:
        query = query.where(deliveries.c.id > after)
    rows = conn.execute(query.order_by(deliveries.c.id).limit(limit)).mappings()
    return [
        {
            "type": "delivery",
            "id": r["id"],
            "channel": r["channel"],
            "user": {"type": "user", "id": r["user_id"]},
            "state": r["state"],
            "attempts": r["attempts"],
            "last_error": r["last_error"],
            "updated_at": r["updated_at"],
        }
        for r in rows
    ]
