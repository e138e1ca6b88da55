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
DELETED = event_class(Company, "Deleted")
RESTORED = event_class(Company, "Restored")
ROWS = (CREATED, UPDATED, DELETED, RESTORED)


class CompaniesProjection:
    name = "companies"
    tables: tuple[Table, ...] = (companies, company_tags)
    per_aggregate = True
    topics: tuple[str, ...] = tuple(map(get_topic, (*ROWS, TAGGED, UNTAGGED)))

    def apply(self, conn: Connection, events: Sequence[Any], tables: dict[str, Table]) -> None:
        self._rows(conn, [e for e in events if isinstance(e, ROWS)], tables)
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
        gone: set[str] = set()
        for event in mine:
            key = event.originator_id.hex
            if isinstance(event, CREATED | RESTORED):
                gone.discard(key)
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
            elif isinstance(event, DELETED):
                gone.add(key)
                continue
            else:
                row = rows[key]
                row.update(event.attributes)
                row["custom_attributes"] = {**row["custom_attributes"], **event.custom}
            rows[key]["updated_at"] = seconds(event.timestamp)
        if gone:  # a deleted company's row and tags go (its users leave it in their events)
            conn.execute(delete(table).where(table.c.id.in_(gone)))
            tagged = tables["company_tags"]
            conn.execute(delete(tagged).where(tagged.c.company_id.in_(gone)))
        upsert(conn, table, [row for key, row in rows.items() if key not in gone])

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
            {"company_id": c, "tag_id": t, "app_id": apps[c]}
            for (c, t), tagged in latest.items()
            if tagged and c in apps  # not for a company deleted since
        ]
        upsert(conn, table, added)
