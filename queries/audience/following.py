"""The audience index follows the projections rather than the events: each use first
re-reads the users (and companies) whose events the projections applied since it last
looked, found by the positions the projections track and the notification log between them.
So a count is never older than the projections it sits beside.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.engine import Result

from projections.companies import CompaniesProjection
from projections.log import Log
from projections.rebuild import SWAPS
from projections.tables import (
    app_user_counts,
    companies,
    positions,
    user_companies,
    user_events,
    user_tags,
    users,
)
from projections.users import UsersProjection
from queries.audience.columns import Events, Mask
from queries.audience.evaluation import Evaluation

CHUNK = 500  # ids per IN list when re-reading changed rows
SWAP_COUNTS = tuple(p.name + SWAPS for p in (UsersProjection, CompaniesProjection))


class Rebuilt(Exception):
    """A projection the index follows was rebuilt: the index must be built again."""


class AudienceIndex(Evaluation):
    """One app's users as columns (queries/audience/evaluation.py), kept up with the
    projections."""

    def __init__(self, app_id: str) -> None:
        super().__init__(app_id)
        self.positions = dict.fromkeys(
            (UsersProjection.name, CompaniesProjection.name, *SWAP_COUNTS), 0
        )
        self.lock = threading.Lock()

    def build(self, engine: Engine) -> None:
        """Everything the projections hold for the app, as of the positions read first."""
        with engine.connect() as conn:
            self.positions = _positions(conn)
            query = select(*self.companies.selected(companies))
            self.companies.put(conn.execute(query.where(companies.c.app_id == self.app_id)).all())
            expected = app_size(conn, self.app_id)
            self.users.reserve(expected + expected // 16)
            query = select(*self.users.selected(users)).where(users.c.app_id == self.app_id)
            found = conn.execute(query.execution_options(yield_per=50_000))
            for part in found.partitions():
                self._put_users(conn, part, related=False)
            self._related(conn, None)

    def refresh(self, conn: Connection, log: Log, limit: int | None = None) -> bool:
        """Re-read what the projections changed since this index last looked; False (and
        nothing read) when more than `limit` users or companies changed. Raises Rebuilt when
        a projection's tables were rebuilt and swapped in since: the index must be built
        again."""
        now = _positions(conn)
        if any(now[n] > self.positions[n] for n in SWAP_COUNTS):
            raise Rebuilt(self.app_id)
        behind = {n: max(self.positions[n], now[n]) for n in now}
        changed_companies = _originators(
            conn, log, self.positions["companies"], behind["companies"], CompaniesProjection.topics
        )
        changed = _originators(
            conn, log, self.positions["users"], behind["users"], UsersProjection.topics
        )
        if limit is not None and len(changed) + len(changed_companies) > limit:
            return False
        for chunk in _chunks(changed_companies):
            query = select(*self.companies.selected(companies)).where(
                companies.c.app_id == self.app_id, companies.c.id.in_(chunk)
            )
            self.companies.put(conn.execute(query).all())
        # Members of a company seen for the first time may have joined it earlier (the users
        # projection can run ahead of the companies one): read these companies' members again.
        self._rejoin(conn, [c for c in changed_companies if c in self.companies.slot])
        for chunk in _chunks(changed):
            query = select(*self.users.selected(users)).where(
                users.c.app_id == self.app_id, users.c.id.in_(chunk)
            )
            found = conn.execute(query).all()
            present = {r[0] for r in found}
            self._forget([i for i in chunk if i not in present and i in self.users.slot])
            self._put_users(conn, found, related=True)
        self.positions = behind
        return True

    def _rejoin(self, conn: Connection, company_ids: list[str]) -> None:
        if not company_ids:
            return
        held = self.companies.slot
        kept = ~np.isin(self.member_companies, [held[c] for c in company_ids])
        m = user_companies.c
        self._join(
            kept,
            (
                conn.execute(select(m.user_id, m.company_id).where(m.company_id.in_(chunk)))
                for chunk in _chunks(company_ids)
            ),
        )

    def _join(self, kept: Mask, parts: Iterable[Iterable[Any]]) -> None:
        """The memberships `kept`, then each (user id, company id) of `parts` whose user and
        company the index holds."""
        held, slot = self.companies.slot, self.users.slot
        joined = [self.member_users[kept]], [self.member_companies[kept]]
        for part in parts:
            pairs = [(slot[u], held[c]) for u, c in part if u in slot and c in held]
            if pairs:
                joined_users, joined_companies = zip(*pairs, strict=True)
                joined[0].append(np.asarray(joined_users, dtype=np.int64))
                joined[1].append(np.asarray(joined_companies, dtype=np.int64))
        self.member_users = np.concatenate(joined[0])
        self.member_companies = np.concatenate(joined[1])

    def _put_users(self, conn: Connection, rows: Sequence[Any], *, related: bool) -> None:
        if not rows:
            return
        slots = self.users.put(rows)
        for events in self.events.values():
            if len(events.count) < self.users.capacity:
                events.grow(self.users.capacity)
        if related:
            self._clear(slots)
            self._related(conn, [r[0] for r in rows])

    def _clear(self, slots: list[int]) -> None:
        at = np.asarray(slots, dtype=np.int64)
        for events in self.events.values():
            events.clear(at)
        gone = set(slots)
        for tagged in self.tags.values():
            tagged -= gone
        kept = ~np.isin(self.member_users, at)
        if not kept.all():
            self.member_users = self.member_users[kept]
            self.member_companies = self.member_companies[kept]

    def _forget(self, ids: list[str]) -> None:
        self._clear(self.users.drop(ids))

    def _related(self, conn: Connection, ids: list[str] | None) -> None:
        """Tags, tracked events and companies of these users (None: of every user)."""

        def rows(table: Table, *columns: Any) -> Result[Any]:
            query = select(*columns)
            if ids is None:
                query = query.where(table.c.app_id == self.app_id)
            else:
                query = query.where(table.c.user_id.in_(ids))
            return conn.execute(query.execution_options(yield_per=50_000))

        slot = self.users.slot
        for part in rows(user_tags, user_tags.c.user_id, user_tags.c.tag_id).partitions():
            for user, tag in part:
                if user in slot:
                    self.tags.setdefault(tag, set()).add(slot[user])
        e = user_events.c
        tracked = rows(user_events, e.user_id, e.name, e.count, e.first_at, e.last_at)
        for part in tracked.partitions():  # a part at a time: rows are big, arrays small
            stats: dict[str, list[tuple[int, float, float, float]]] = {}
            for user, name, count, first_at, last_at in part:
                if user in slot:
                    stats.setdefault(name, []).append((slot[user], count, first_at, last_at))
            for name, found in stats.items():
                if name not in self.events:
                    self.events[name] = Events(self.users.capacity)
                events = self.events[name]
                at, count, first_at, last_at = (np.asarray(v) for v in zip(*found, strict=True))
                events.count[at] = count
                events.first_at[at] = first_at
                events.last_at[at] = last_at
        m = user_companies.c
        everyone = np.ones(len(self.member_users), dtype=bool)
        self._join(everyone, rows(user_companies, m.user_id, m.company_id).partitions())


def app_size(conn: Connection, app_id: str) -> int:
    """The app's users, as the users projection keeps count of them."""
    query = select(app_user_counts.c.users).where(app_user_counts.c.app_id == app_id)
    return int(conn.execute(query).scalar() or 0)


def _positions(conn: Connection) -> dict[str, int]:
    """The users and companies projections' positions, and how often each was rebuilt."""
    names = (UsersProjection.name, CompaniesProjection.name, *SWAP_COUNTS)
    query = select(positions.c.name, positions.c.position).where(positions.c.name.in_(names))
    found = {name: int(position) for name, position in conn.execute(query).tuples()}
    return {name: found.get(name, 0) for name in names}


def _originators(
    conn: Connection, log: Log, after: int, until: int, topics: Sequence[str]
) -> list[str]:
    """Aggregates with events of these topics in (after, until] of the notification log."""
    if until <= after:
        return []
    t = log.table
    query = (
        select(log.originator_id_column)
        .where(t.c.id > after, t.c.id <= until, t.c.topic.in_(topics))
        .distinct()
    )
    return [key.hex for key in conn.execute(query).scalars()]


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
