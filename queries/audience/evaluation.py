"""Counting with the audience index: a filter becomes a mask over the user slots (groups
combine masks, segments expand, company conditions reach users through memberships), by the
same rules as `domain.matching` and the SQL of `queries.audience.sql`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from domain.filters import COMPANY_ATTRIBUTES, SEGMENT, TAG, Condition, Filter, Group
from domain.relationship import RELATIONSHIP_MONTH
from queries.audience.columns import USER_COLUMNS, Columns, Events, Mask, compare, mask_of

Segments = Callable[[str], Filter | None]
MAX_TIES = 5_000  # users sorted in Python for a first page at most (else SQL reads it)
RARE = 50  # the index picks a first page when fewer than 1 user in RARE matches


class Evaluation:
    """One app's users (with their tags, tracked events and companies), as columns, and the
    filters counted over them."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.users = Columns(USER_COLUMNS)
        self.companies = Columns(COMPANY_ATTRIBUTES)
        self.tags: dict[str, set[int]] = {}
        self.events: dict[str, Events] = {}
        # Who is in which company: pairs of a user slot and a company slot.
        self.member_users = np.zeros(0, dtype=np.int64)
        self.member_companies = np.zeros(0, dtype=np.int64)

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
            return mask_of(n, self.tags.get(c.value, ()))
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
            return mask_of(n, self.member_users[chosen[self.member_companies]])
        if c.name == "relationship_score":
            return compare(c, self._relationship(now, n), now)
        return self.users.holds(c, now)

    def _event(self, c: Condition, now: datetime, n: int) -> Mask:
        part = c.scope.removeprefix("event.")
        events = self.events.get(c.name)
        if events is None:
            values = np.zeros(n) if part == "count" else np.full(n, np.nan)
        else:
            values = getattr(events, part)[:n]
        return compare(c, values, now)

    def _relationship(self, now: datetime, n: int) -> np.ndarray[Any, Any]:
        moment = int(now.timestamp())

        def half(column: str) -> np.ndarray[Any, Any]:
            at = self.users.number[column][:n]
            with np.errstate(invalid="ignore"):
                months = np.floor_divide(np.maximum(0.0, moment - at), RELATIONSHIP_MONTH)
                score = np.maximum(0.0, 50.0 - 5.0 * months)
            return np.where(np.isnan(at), 0.0, score)

        return half("last_message_sent_at") + half("last_message_received_at")
