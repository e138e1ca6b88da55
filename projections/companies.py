"""The companies read model; user counts come from the users projection's memberships."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, select

from domain.company import Company
from projections.events import event_class
from projections.tables import companies
from projections.upsert import upsert
from projections.users import seconds

CREATED = event_class(Company, "Created")
UPDATED = event_class(Company, "Updated")


class CompaniesProjection:
    name = "companies"
    tables: tuple[Table, ...] = (companies,)
    per_aggregate = True
    topics: tuple[str, ...] = (get_topic(CREATED), get_topic(UPDATED))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        mine = [e for e in events if isinstance(e, CREATED | UPDATED)]
        if not mine:
            return
        table = tables["companies"]
        ids = list({e.originator_id.hex for e in mine})
        rows = {
            r["id"]: dict(r)
            for r in conn.execute(select(table).where(table.c.id.in_(ids))).mappings()
        }
        for event in mine:
            key = event.originator_id.hex
            if isinstance(event, CREATED):
                rows[key] = {
                    "id": key,
                    "app_id": event.app_id,
                    "company_id": event.company_id,
                    "name": None,
                    "plan": None,
                    "monthly_spend": None,
                    "remote_created_at": None,
                    "created_at": seconds(event.at),
                    "custom_attributes": {},
                }
            else:
                row = rows[key]
                row.update(event.attributes)
                row["custom_attributes"] = {**row["custom_attributes"], **event.custom}
            rows[key]["updated_at"] = seconds(event.timestamp)
        upsert(conn, table, list(rows.values()))
