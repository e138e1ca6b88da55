"""Access to the event classes eventsourcing generates from decorated aggregate methods."""

from __future__ import annotations

from typing import Any


def event_class(aggregate: type[Any], name: str) -> type[Any]:
    """`User.Updated` and friends exist only at run time; name them once, checked."""
    found = getattr(aggregate, name, None)
    if not isinstance(found, type):
        raise LookupError(f"{aggregate.__name__} has no event {name}")
    return found
