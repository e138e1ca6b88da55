"""The companies read model; user counts come from the users projection's memberships."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table, delete, select, tuple_

from domain.company import Company
from projections.events import event_class
from projections.tables import companies, company_tags
from projections.upsert import upsert
from projections.users import seconds

CREATED = event_class(Company, "Created")
UPDATED = event_class(Company, "Updated")
TAGGED = event_class(Company, "Tagged")
UNTAGGED = event_class(Company, "Untagged")


class CompaniesProjection:
    name = "companies"
    tables: tuple[Table, ...] = (companies, company_tags)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(map(get_topic, (CREATED, UPDATED, TAGGED, UNTAGGED)))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        self._rows(conn, [e for e in events if isinstance(e, CREATED | UPDATED)], tables)
        self._tags(conn, [e for e in events if isinstance(e, TAGGED | UNTAGGED)], tables)

    def _rows(self, conn: Connection, mine: list[Any], tables: dict[str, Table]) -> None:
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

    def _tags(self, conn: Connection, events: list[Any], tables: dict[str, Table]) -> None:
        if not events:
            return
        table = tables["company_tags"]
        latest = {(e.originator_id.hex, e.tag_id): isinstance(e, TAGGED) for e in events}
        removed = [pair for pair, tagged in latest.items() if not tagged]
        if removed:
            conn.execute(
                delete(table).where(tuple_(table.c.company_id, table.c.tag_id).in_(removed))
            )
        owners = tables["companies"]
        query = select(owners.c.id, owners.c.app_id).where(owners.c.id.in_([c for c, _ in latest]))
        apps = dict(conn.execute(query).tuples().all())
        added = [
            {"company_id": c, "tag_id": t, "app_id": apps.get(c, "")}
            for (c, t), tagged in latest.items()
            if tagged
        ]
        upsert(conn, table, added)
