"""Given events, when a command, then these events: the aggregate's history so far is taken
(as if loaded), then what one command recorded is read off by name."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


def settled(aggregate: Aggregate) -> Aggregate:
    """The aggregate as loaded: its events so far are history, not news."""
    aggregate.collect_events()
    return aggregate


def recorded(aggregate: Aggregate) -> list[tuple[str, dict[str, Any]]]:
    """The events the last commands recorded, by name, with their fields."""
    found = []
    for event in aggregate.collect_events():
        fields = {
            k: v
            for k, v in event.__dict__.items()
            if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
        }
        found.append((type(event).__qualname__.split(".")[-1], fields))
    return found
