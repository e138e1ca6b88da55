"""An in-memory column index of one large app's users: exact filter counts in milliseconds.

Counting who a filter matches means visiting every user who might: at a million users,
PostgreSQL spends 100-300 ms on two cores however the tables are indexed (bench/audience.py),
while the first page, read off the sort order's index, is fast. This index keeps what filters
test as numpy columns, one slot per user, and counts with a few vector operations. It gives
the same answers as `domain.matching` (the rules are listed there) and as `queries.filters`;
tests/test_audience_index.py holds it to both.

It follows the projections rather than the events: each use first re-reads the users (and
companies) whose events the projections applied since it last looked, found by the positions
the projections track and the notification log between them. So a count is never older than
the projections it sits beside. Building it reads the app's projection rows once (seconds at
a million users), in a background thread; until then counts come from SQL.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.engine import Result

from domain.filters import (
    ANY,
    BOOLEAN,
    COMPANY_ATTRIBUTES,
    NUMBER,
    SEGMENT,
    STRING,
    TAG,
    USER_ATTRIBUTES,
    Condition,
    Filter,
    Group,
)
from domain.matching import date_bounds, fold, text_holds
from domain.relationship import RELATIONSHIP_MONTH
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

LOG = logging.getLogger(__name__)
Mask = np.ndarray[Any, np.dtype[np.bool_]]
Segments = Callable[[str], Filter | None]

# Bytes of a folded string kept in its column's fixed-width array, where numpy compares them
# in C; the few longer values are tested one by one. last_url is not indexed (URLs are long):
# a filter on it is counted by SQL.
WIDTH = 64
NOT_INDEXED = {"last_url", "relationship_score"}
USER_COLUMNS = {n: k for n, k in USER_ATTRIBUTES.items() if n not in NOT_INDEXED}
COMPARE: dict[str, Callable[[Any, float], Any]] = {
    "eq": np.equal,
    "gt": np.greater,
    "gte": np.greater_equal,
    "lt": np.less,
    "lte": np.less_equal,
}
# Custom values by type: what `domain.matching.typed` accepts for each kind of condition.
NONE, TEXT, NUM, BOOL, OTHER = range(5)
CHUNK = 500  # ids per IN list when re-reading changed rows
MAX_TIES = 5_000  # users sorted in Python for a first page at most (else SQL reads it)
RARE = 50  # the index picks a first page when fewer than 1 user in RARE matches
LOCK_WAIT = 0.2  # seconds a request waits for an index another thread is refreshing
SWAP_COUNTS = tuple(p.name + SWAPS for p in (UsersProjection, CompaniesProjection))


class Rebuilt(Exception):
    """A projection the index follows was rebuilt: the index must be built again."""


class Text:
    """A string column: ASCII-folded UTF-8 (a substring of the bytes is a substring of the
    text) in a fixed-width array as wide as its longest value, up to WIDTH bytes; longer
    values are kept apart."""

    def __init__(self, capacity: int) -> None:
        self.data = np.zeros(capacity, dtype="S1")
        self.known = np.zeros(capacity, dtype=bool)
        self.long: dict[int, bytes] = {}

    def grow(self, capacity: int) -> None:
        self.data = _grown(self.data, capacity)
        self.known = _grown(self.known, capacity)

    def put(self, slots: Sequence[int], values: Sequence[str | None]) -> None:
        if not slots:
            return
        encoded = _encoded(values)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        if self.long:
            for slot in slots:
                self.long.pop(slot, None)
        for i in np.flatnonzero(lengths > WIDTH).tolist():
            self.long[slots[i]] = encoded[i].lower()  # bytes fold ASCII letters only
            encoded[i] = b""
        widest = int(lengths[lengths <= WIDTH].max(initial=1))
        if widest > self.data.dtype.itemsize:
            self.data = self.data.astype(f"S{widest}")
        at = np.asarray(slots, dtype=np.int64)
        self.data[at] = np.strings.lower(np.array(encoded, dtype=f"S{widest}"))
        self.known[at] = [v is not None for v in values]

    def test(self, operator: str, wanted: str, n: int) -> Mask:
        want = fold(wanted).encode()
        data = self.data[:n]
        found: Mask
        if operator == "is":
            found = data == want
        elif operator == "starts_with":
            found = np.strings.startswith(data, want)
        elif operator == "ends_with":
            found = np.strings.endswith(data, want)
        else:  # contains
            found = np.strings.find(data, want) >= 0
        found &= self.known[:n]
        for slot, value in self.long.items():
            if slot < n:
                found[slot] = text_holds(operator, value, want)
        return found


def _encoded(values: Sequence[str | None]) -> list[bytes]:
    """UTF-8 of each value (None: empty), encoded in one go: no value holds a NUL (the API
    refuses them), so they are joined and split on it; checked all the same."""
    texts = ["" if v is None else v for v in values]
    encoded = "\x00".join(texts).encode().split(b"\x00")
    if len(encoded) != len(texts):
        encoded = [t.encode() for t in texts]
    return encoded


def _grown(array: np.ndarray[Any, Any], capacity: int, fill: Any = 0) -> np.ndarray[Any, Any]:
    bigger = np.full(capacity, fill, dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class Custom:
    """One custom data key: each slot's value by type (see `domain.matching.typed`); the
    numbers array is made when the key first holds a number or boolean."""

    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.int8)
        self.number: np.ndarray[Any, Any] | None = None
        self.text = Text(capacity)

    def grow(self, capacity: int) -> None:
        self.kind = _grown(self.kind, capacity)
        if self.number is not None:
            self.number = _grown(self.number, capacity, np.nan)
        self.text.grow(capacity)

    def put(self, slots: list[int], values: list[Any]) -> None:
        kinds = [_kind_of(v) for v in values]
        at = np.asarray(slots, dtype=np.int64)
        self.kind[at] = kinds
        numbers = [
            _as_float(v) if k in (NUM, BOOL) else np.nan for v, k in zip(values, kinds, strict=True)
        ]
        if self.number is None and (NUM in kinds or BOOL in kinds):
            self.number = np.full(len(self.kind), np.nan)
        if self.number is not None:
            self.number[at] = numbers
        texts = [i for i, k in enumerate(kinds) if k == TEXT]
        self.text.put([slots[i] for i in texts], [values[i] for i in texts])
        others = [s for s, k in zip(slots, kinds, strict=True) if k != TEXT]
        self.text.put(others, [None] * len(others))

    def numbers(self, n: int) -> np.ndarray[Any, Any]:
        return np.full(n, np.nan) if self.number is None else self.number[:n]


def _as_float(value: Any) -> float:
    """A number as a 64-bit float; an integer too large for one is infinitely large, which
    orders it as it is (custom data takes integers of any size)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _kind_of(value: Any) -> int:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUM
    return TEXT if isinstance(value, str) else OTHER


class Columns:
    """One table's filterable attributes (users' or companies'), a slot per row."""

    def __init__(self, kinds: dict[str, str], capacity: int = 1024) -> None:
        self.kinds = kinds
        self.capacity = capacity
        self.size = 0  # slots handed out; a freed slot stays dead
        self.slot: dict[str, int] = {}
        self.ids: list[str] = []  # by slot, dead ones included
        self.alive = np.zeros(capacity, dtype=bool)
        self.text = {n: Text(capacity) for n, k in kinds.items() if k == STRING}
        self.number = {n: np.full(capacity, np.nan) for n, k in kinds.items() if k != STRING}
        self.custom: dict[str, Custom] = {}

    def slots_for(self, ids: Sequence[str]) -> list[int]:
        """The slot of each id, handing out new ones (growing the arrays) as needed."""
        fresh = [i for i in dict.fromkeys(ids) if i not in self.slot]
        if self.size + len(fresh) > self.capacity:
            self._grow(max(self.capacity + self.capacity // 2, self.size + len(fresh)))
        for key in fresh:
            self.slot[key] = self.size
            self.ids.append(key)
            self.size += 1
        return [self.slot[i] for i in ids]

    def reserve(self, capacity: int) -> None:
        """Room for this many rows before the arrays next grow."""
        if capacity > self.capacity:
            self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        self.capacity = capacity
        self.alive = _grown(self.alive, capacity)
        for text in self.text.values():
            text.grow(capacity)
        for name, column in self.number.items():
            self.number[name] = _grown(column, capacity, np.nan)
        for custom in self.custom.values():
            custom.grow(capacity)

    def selected(self, table: Table) -> list[Any]:
        """The columns `put` takes, in its order."""
        return [table.c.id, *(table.c[n] for n in self.kinds), table.c.custom_attributes]

    def put(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Store these rows, tuples of the `selected` columns."""
        if not rows:
            return []
        names = ["id", *self.kinds, "custom_attributes"]
        columns = dict(zip(names, zip(*rows, strict=True), strict=True))
        slots = self.slots_for(columns["id"])
        at = np.asarray(slots, dtype=np.int64)
        self.alive[at] = True
        for name, text in self.text.items():
            text.put(slots, columns[name])
        for name, column in self.number.items():
            column[at] = [np.nan if v is None else float(v) for v in columns[name]]
        by_key: dict[str, tuple[list[int], list[Any]]] = {}
        for slot, custom in zip(slots, columns["custom_attributes"], strict=True):
            for key, value in custom.items():
                found = by_key.setdefault(key, ([], []))
                found[0].append(slot)
                found[1].append(value)
        for key, custom in self.custom.items():  # keys these rows may no longer have
            if key not in by_key:
                custom.put(slots, [None] * len(slots))
        for key, (key_slots, values) in by_key.items():
            if key not in self.custom:
                self.custom[key] = Custom(self.capacity)
            elif len(key_slots) < len(slots):
                self.custom[key].put(slots, [None] * len(slots))
            self.custom[key].put(key_slots, values)
        return slots

    def drop(self, ids: Iterable[str]) -> list[int]:
        """Forget these rows; their slots stay dead."""
        gone = [self.slot.pop(i) for i in ids if i in self.slot]
        self.alive[np.asarray(gone, dtype=np.int64)] = False
        for text in [*self.text.values(), *(c.text for c in self.custom.values())]:
            for slot in gone:
                text.long.pop(slot, None)
        return gone

    def holds(self, c: Condition, now: datetime) -> Mask:
        """Rows whose attribute has the condition's type and meets its positive operator."""
        n = self.size
        if c.custom:
            custom = self.custom.get(c.name)
            if custom is None:
                return np.zeros(n, dtype=bool)
            kind = custom.kind[:n]
            if c.kind == ANY:
                return kind != NONE
            if c.kind == STRING:
                return _known_or_text(c, custom.text, n)
            wanted = BOOL if c.kind == BOOLEAN else NUM
            return (kind == wanted) & _compare(c, custom.numbers(n), now)
        if c.kind == STRING:
            return _known_or_text(c, self.text[c.name], n)
        return _compare(c, self.number[c.name][:n], now)


def _known_or_text(c: Condition, text: Text, n: int) -> Mask:
    known = text.known[:n].copy()
    return known if c.operator == "known" else text.test(c.operator, c.value, n)


def _compare(c: Condition, values: np.ndarray[Any, Any], now: datetime) -> Mask:
    """A number, boolean or date condition over float columns (NaN: no value)."""
    known: Mask = ~np.isnan(values)
    if c.operator == "known":
        return known
    if c.kind == BOOLEAN:
        return known & (values == float(c.value))
    if c.kind == NUMBER:
        with np.errstate(invalid="ignore"):
            return known & COMPARE[c.operator](values, c.value)
    low, high = date_bounds(c.operator, c.value, now)
    found = known
    if low is not None:
        found = found & (values >= low)
    if high is not None:
        found = found & (values < high)
    return found


class Events:
    """One tracked event's count (0 for those who never did it) and first and last times."""

    def __init__(self, capacity: int) -> None:
        self.count = np.zeros(capacity)
        self.first_at = np.full(capacity, np.nan)
        self.last_at = np.full(capacity, np.nan)

    def grow(self, capacity: int) -> None:
        self.count = _grown(self.count, capacity)
        self.first_at = _grown(self.first_at, capacity, np.nan)
        self.last_at = _grown(self.last_at, capacity, np.nan)

    def clear(self, slots: np.ndarray[Any, Any]) -> None:
        self.count[slots] = 0
        self.first_at[slots] = np.nan
        self.last_at[slots] = np.nan


class AudienceIndex:
    """One app's users (with their tags, tracked events and companies), as columns."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.users = Columns(USER_COLUMNS)
        self.companies = Columns(COMPANY_ATTRIBUTES)
        self.tags: dict[str, set[int]] = {}
        self.events: dict[str, Events] = {}
        # Who is in which company: pairs of a user slot and a company slot.
        self.member_users = np.zeros(0, dtype=np.int64)
        self.member_companies = np.zeros(0, dtype=np.int64)
        self.positions = dict.fromkeys(
            (UsersProjection.name, CompaniesProjection.name, *SWAP_COUNTS), 0
        )
        self.lock = threading.Lock()

    # -- reading the projections ---------------------------------------------------------

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

    # -- counting ------------------------------------------------------------------------

    def covers(self, f: Filter, segments: Segments, seen: frozenset[str] = frozenset()) -> bool:
        """Whether this index can evaluate the filter (else SQL counts it)."""
        if isinstance(f, Group):
            return all(self.covers(part, segments, seen) for part in f.parts)
        if f.kind == SEGMENT:
            definition = segments(f.value)
            if definition is None or f.value in seen:
                return True  # matches nobody, as in SQL
            return self.covers(definition, segments, seen | {f.value})
        return f.custom or f.scope != "user" or f.name != "last_url"

    def count(self, f: Filter, now: datetime, segments: Segments) -> int:
        return int(np.count_nonzero(self._audience(f, now, segments)))

    def listing(
        self,
        f: Filter,
        now: datetime,
        segments: Segments,
        first: tuple[str, bool, int] | None = None,
        *,
        rare: int = RARE,
    ) -> tuple[int, list[str] | None]:
        """How many users `f` matches and, for `first` = (sort, descending, size), the ids
        of the first `size` of them in the list's order: by `sort`, users without a value
        last, then by id, both the same way. The page is None (SQL reads it) for a sort the
        index does not hold, for thousands of users tied where the page ends, and when at
        least one user in `rare` matches: then SQL, walking the list's own index, soon finds
        a page's worth."""
        chosen = np.flatnonzero(self._audience(f, now, segments))
        total = len(chosen)
        if first is None or (rare and total * rare >= np.count_nonzero(self.users.alive)):
            return total, None
        return total, self._first(chosen, *first)

    def _first(
        self, chosen: np.ndarray[Any, Any], sort: str, descending: bool, size: int
    ) -> list[str] | None:
        column = self.users.number.get(sort)
        if column is None:
            return None
        values = column[chosen]
        known = ~np.isnan(values)
        valued, values = chosen[known], values[known]
        if len(valued) > size:
            keyed = -values if descending else values
            last = np.partition(keyed, size - 1)[size - 1]
            near = keyed <= last  # the page, and any ties with its last value
            if np.count_nonzero(near) > MAX_TIES:
                return None
            valued, values = valued[near], values[near]
        ids = self.users.ids
        ordered = sorted(zip(values.tolist(), [ids[s] for s in valued.tolist()], strict=True))
        if descending:
            ordered.reverse()
        found = [key for _, key in ordered[:size]]
        if len(found) < size:  # then users without a value, by id
            unvalued = chosen[~known]
            if len(unvalued) > MAX_TIES:
                return None
            rest = sorted((ids[s] for s in unvalued.tolist()), reverse=descending)
            found += rest[: size - len(found)]
        return found

    def ids(self, f: Filter, now: datetime, segments: Segments) -> set[str]:
        """The ids of the users `f` matches (tests hold them to the other evaluators)."""
        chosen = set(np.flatnonzero(self._audience(f, now, segments)).tolist())
        return {key for key, slot in self.users.slot.items() if slot in chosen}

    def _audience(self, f: Filter, now: datetime, segments: Segments) -> Mask:
        return self.matches(f, now, segments, set()) & self.users.alive[: self.users.size]

    def matches(self, f: Filter, now: datetime, segments: Segments, expanding: set[str]) -> Mask:
        n = self.users.size
        if isinstance(f, Group):
            found = np.full(n, f.mode == "all")
            for part in f.parts:
                mask = self.matches(part, now, segments, expanding)
                found = found & mask if f.mode == "all" else found | mask
            return found
        positive = self._positive(f, now, segments, expanding)
        return ~positive if f.negated else positive

    def _positive(
        self, c: Condition, now: datetime, segments: Segments, expanding: set[str]
    ) -> Mask:
        n = self.users.size
        if c.kind == TAG:
            return _mask(n, self.tags.get(c.value, ()))
        if c.kind == SEGMENT:
            definition = segments(c.value)
            if definition is None or c.value in expanding:
                return np.zeros(n, dtype=bool)
            expanding.add(c.value)
            try:
                return self.matches(definition, now, segments, expanding)
            finally:
                expanding.discard(c.value)
        if c.scope.startswith("event."):
            return self._event(c, now, n)
        if c.scope == "company":
            chosen = self.companies.holds(c, now) & self.companies.alive[: self.companies.size]
            return _mask(n, self.member_users[chosen[self.member_companies]])
        if c.name == "relationship_score":
            return _compare(c, self._relationship(now, n), now)
        return self.users.holds(c, now)

    def _event(self, c: Condition, now: datetime, n: int) -> Mask:
        part = c.scope.removeprefix("event.")
        events = self.events.get(c.name)
        if events is None:
            values = np.zeros(n) if part == "count" else np.full(n, np.nan)
        else:
            values = getattr(events, part)[:n]
        return _compare(c, values, now)

    def _relationship(self, now: datetime, n: int) -> np.ndarray[Any, Any]:
        moment = int(now.timestamp())

        def half(column: str) -> np.ndarray[Any, Any]:
            at = self.users.number[column][:n]
            with np.errstate(invalid="ignore"):
                months = np.floor_divide(np.maximum(0.0, moment - at), RELATIONSHIP_MONTH)
                score = np.maximum(0.0, 50.0 - 5.0 * months)
            return np.where(np.isnan(at), 0.0, score)

        return half("last_message_sent_at") + half("last_message_received_at")


def _mask(n: int, slots: Iterable[int] | np.ndarray[Any, Any]) -> Mask:
    found = np.zeros(n, dtype=bool)
    at = slots if isinstance(slots, np.ndarray) else np.fromiter(slots, dtype=np.int64)
    found[at] = True
    return found


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


class AudienceIndexes:
    """The indexes of the apps with at least `min_users` users (None: none; every count is
    SQL's), each built in the background on first use.

    A request never waits long on an index: when another thread holds it, when more than
    `request_limit` users changed since it last looked, or when it fails, SQL counts. A
    thread re-reads what changed every `refresh_seconds` (the large catch-ups too), so that
    requests only catch up on the last few seconds. An index whose projections were rebuilt
    is built again; one that failed is dropped and built again after `retry_seconds`; one
    unused for `idle_seconds` is dropped, to be built again if asked."""

    def __init__(
        self,
        engine: Engine,
        log: Log,
        min_users: int | None,
        refresh_seconds: float = 5.0,
        idle_seconds: float = 3600.0,
        request_limit: int = 20_000,
        retry_seconds: float = 600.0,
    ) -> None:
        self.engine = engine
        self.log = log
        self.min_users = min_users
        self.refresh_seconds = refresh_seconds
        self.idle_seconds = idle_seconds
        self.request_limit = request_limit
        self.retry_seconds = retry_seconds
        self._ready: dict[str, AudienceIndex] = {}
        self._used: dict[str, float] = {}
        self._failed: dict[str, float] = {}
        self._building: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None

    def count(
        self, conn: Connection, app_id: str, f: Filter, now: datetime, segments: Segments
    ) -> int | None:
        """The exact number of the app's users `f` matches, or None: count it in SQL."""
        found = self.search(conn, app_id, f, now, segments)
        return None if found is None else found[0]

    def search(
        self,
        conn: Connection,
        app_id: str,
        f: Filter,
        now: datetime,
        segments: Segments,
        first: tuple[str, bool, int] | None = None,
    ) -> tuple[int, list[str] | None] | None:
        """How many of the app's users `f` matches and, for `first` = (sort, descending,
        size), the ids of the list's first page (None: SQL reads it); None: SQL does both."""
        index = self.ready(conn, app_id)
        if index is None or not index.covers(f, segments):
            return None
        if not index.lock.acquire(timeout=LOCK_WAIT):
            return None  # another thread is catching it up
        try:
            if not index.refresh(conn, self.log, self.request_limit):
                return None
            return index.listing(f, now, segments, first)
        except Exception as error:
            conn.rollback()  # SQL counts on this connection next
            self._drop(index, error)
            return None
        finally:
            index.lock.release()

    def ready(self, conn: Connection, app_id: str) -> AudienceIndex | None:
        if self.min_users is None or self._stopped.is_set():
            return None
        with self._lock:
            index = self._ready.get(app_id)
            if index is not None:
                self._used[app_id] = time.monotonic()
                return index
            if app_id in self._building:
                return None
            if time.monotonic() - self._failed.get(app_id, -math.inf) < self.retry_seconds:
                return None
        if app_size(conn, app_id) >= self.min_users:
            self.start(app_id)
        return None

    def start(self, app_id: str) -> threading.Thread | None:
        """Build the app's index in the background (None: it is built already)."""
        with self._lock:
            if app_id in self._ready:
                return None
            thread = self._building.get(app_id)
            if thread is None:
                thread = threading.Thread(
                    target=self._build, args=(app_id,), name=f"index-{app_id}", daemon=True
                )
                self._building[app_id] = thread
                thread.start()
            return thread

    def build(self, app_id: str) -> AudienceIndex:
        """Build the app's index now (tests, benchmarks) and use it from then on."""
        thread = self.start(app_id)
        if thread is not None:
            thread.join()
        with self._lock:
            index = self._ready.get(app_id)
        if index is None:
            raise RuntimeError(f"the audience index of {app_id} could not be built (logged)")
        return index

    def _build(self, app_id: str) -> None:
        index = AudienceIndex(app_id)
        try:
            index.build(self.engine)
        except Exception:
            LOG.exception("building the audience index of %s failed; SQL counts", app_id)
            with self._lock:
                self._building.pop(app_id, None)
                self._failed[app_id] = time.monotonic()
            return
        with self._lock:
            self._building.pop(app_id, None)
            if self._stopped.is_set():
                return
            self._ready[app_id] = index
            self._used[app_id] = time.monotonic()
            if self._refresher is None and self.refresh_seconds > 0:
                self._refresher = threading.Thread(
                    target=self._keep_fresh, name="index-refresher", daemon=True
                )
                self._refresher.start()

    def _drop(self, index: AudienceIndex, error: Exception) -> None:
        """Forget a stale or broken index: build a rebuilt projection's again at once, a
        failed one after `retry_seconds`."""
        app_id = index.app_id
        with self._lock:
            if self._ready.get(app_id) is index:
                del self._ready[app_id]
                self._used.pop(app_id, None)
        if isinstance(error, Rebuilt):
            LOG.info("the projections were rebuilt: building the audience index of %s", app_id)
            self.start(app_id)
        else:
            LOG.error("the audience index of %s failed; SQL counts", app_id, exc_info=error)
            with self._lock:
                self._failed[app_id] = time.monotonic()

    def _keep_fresh(self) -> None:
        while not self._stopped.wait(self.refresh_seconds):
            with self._lock:
                idle = time.monotonic() - self.idle_seconds
                for app_id in [a for a, used in self._used.items() if used < idle]:
                    self._ready.pop(app_id, None)
                    self._used.pop(app_id, None)
                held = list(self._ready.values())
            for index in held:
                try:
                    with self.engine.connect() as conn, index.lock:
                        index.refresh(conn, self.log)
                except Exception as error:
                    self._drop(index, error)

    def stop(self) -> None:
        """Stop refreshing; wait for builds under way (they read the database)."""
        self._stopped.set()
        with self._lock:
            building = list(self._building.values())
        for thread in building:
            thread.join()
        if self._refresher is not None:
            self._refresher.join()
