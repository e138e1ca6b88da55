"""Segments: saved filters ("monthly active users on the Pro plan"). Membership is never
stored: whoever matches the filter now is in, whoever stops matching is out.

An app's segments live in one aggregate, so references between them (a segment may use
another) are checked against all of them at once: no unknown segment, no cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.filters import SEGMENT, Filter, conditions, parse_filter
from domain.identity import NAMESPACE


def segments_key(app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/segments")


class Segments(Aggregate):
    @staticmethod
    def create_id(app_id: str) -> UUID:
        return segments_key(app_id)

    @event("Started")
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.names: dict[str, str] = {}
        self.definitions: dict[str, dict[str, Any]] = {}  # the filters' JSON form

    def definition(self, segment_id: str) -> Filter | None:
        """The segment's filter (None for an unknown or deleted segment)."""
        found = self.definitions.get(segment_id)
        return parse_filter(found) if found is not None else None

    def create(self, name: str, definition: dict[str, Any], at: datetime) -> str:
        segment_id = uuid4().hex
        self._check(segment_id, name, definition)
        self._created(self.app_id, segment_id, name.strip(), definition, at)
        return segment_id

    def change(
        self, segment_id: str, name: str | None, definition: dict[str, Any] | None, at: datetime
    ) -> None:
        name = self.names[segment_id] if name is None else name.strip()
        definition = self.definitions[segment_id] if definition is None else definition
        if name == self.names[segment_id] and definition == self.definitions[segment_id]:
            return
        self._check(segment_id, name, definition)
        self._changed(segment_id, name, definition, at)

    def delete(self, segment_id: str, at: datetime) -> None:
        users = [
            self.names[other]
            for other, found in self.definitions.items()
            if other != segment_id and segment_id in _references(parse_filter(found))
        ]
        if users:
            raise InvalidValue("id", f"segment is used by {', '.join(sorted(users))}")
        self._deleted(segment_id, at)

    def _check(self, segment_id: str, name: str, definition: dict[str, Any]) -> None:
        if not name.strip():
            raise InvalidValue("name", "a segment needs a name")
        clash = next(
            (
                i
                for i, n in self.names.items()
                if i != segment_id and n.casefold() == name.casefold()
            ),
            None,
        )
        if clash is not None:
            raise InvalidValue("name", f"another segment is already named {name!r}")
        refs = {segment_id: _references(parse_filter(definition))}
        for other, found in self.definitions.items():
            refs.setdefault(other, _references(parse_filter(found)))
        for ref in refs[segment_id]:
            if ref not in refs:
                raise InvalidValue("filter", f"no segment {ref!r}")
        if _cycles(segment_id, refs):
            raise InvalidValue("filter", "a segment cannot include itself, even through others")

    @event("Created")
    def _created(
        self, app_id: str, segment_id: str, name: str, definition: dict[str, Any], at: datetime
    ) -> None:
        self.names[segment_id] = name
        self.definitions[segment_id] = definition

    @event("Changed")
    def _changed(
        self, segment_id: str, name: str, definition: dict[str, Any], at: datetime
    ) -> None:
        self.names[segment_id] = name
        self.definitions[segment_id] = definition

    @event("Deleted")
    def _deleted(self, segment_id: str, at: datetime) -> None:
        del self.names[segment_id]
        del self.definitions[segment_id]


def _references(f: Filter) -> set[str]:
    return {c.value for c in conditions(f) if c.kind == SEGMENT}


def _cycles(start: str, refs: dict[str, set[str]]) -> bool:
    seen: set[str] = set()
    todo = list(refs[start])
    while todo:
        current = todo.pop()
        if current == start:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(refs.get(current, ()))
    return False
