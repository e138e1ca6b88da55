"""The audience index's columns: one slot per user (or company), each attribute a numpy
array, strings folded into fixed-width bytes, custom data by type, tracked events by name.
Each column answers one condition over all slots at once (`holds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Table

from domain.filters import (
    ANY,
    BOOLEAN,
    NUMBER,
    STRING,
    USER_ATTRIBUTES,
    Condition,
)
from domain.matching import date_bounds, fold, text_holds

Mask = np.ndarray[Any, np.dtype[np.bool_]]

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
            return (kind == wanted) & compare(c, custom.numbers(n), now)
        if c.kind == STRING:
            return _known_or_text(c, self.text[c.name], n)
        return compare(c, self.number[c.name][:n], now)


def _known_or_text(c: Condition, text: Text, n: int) -> Mask:
    known = text.known[:n].copy()
    return known if c.operator == "known" else text.test(c.operator, c.value, n)


def compare(c: Condition, values: np.ndarray[Any, Any], now: datetime) -> Mask:
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


def mask_of(n: int, slots: Iterable[int] | np.ndarray[Any, Any]) -> Mask:
    found = np.zeros(n, dtype=bool)
    at = slots if isinstance(slots, np.ndarray) else np.fromiter(slots, dtype=np.int64)
    found[at] = True
    return found
