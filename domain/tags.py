"""Tags: names a team puts on users and companies by hand ("PDF" for those who asked for it).

An app's tags live in one aggregate, so two tags never share a name. Tag ids are random:
a deleted tag's id is never reused, and re-creating the name makes a new, empty tag.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.identity import NAMESPACE


def tags_key(app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/tags")


class Tags(Aggregate):
    @staticmethod
    def create_id(app_id: str) -> UUID:
        return tags_key(app_id)

    @event("Started")
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.names: dict[str, str] = {}  # tag id -> name

    def named(self, name: str) -> str | None:
        """The id of the tag with this name (case-insensitive), if there is one."""
        wanted = name.strip().casefold()
        return next((i for i, n in self.names.items() if n.casefold() == wanted), None)

    def create(self, name: str, at: datetime) -> str:
        tag_id = uuid4().hex
        self._created(self.app_id, tag_id, name.strip(), at)
        return tag_id

    @event("Created")
    def _created(self, app_id: str, tag_id: str, name: str, at: datetime) -> None:
        self.names[tag_id] = name

    @event("Renamed")
    def rename(self, tag_id: str, name: str) -> None:
        self.names[tag_id] = name

    @event("Deleted")
    def delete(self, tag_id: str, at: datetime) -> None:
        del self.names[tag_id]
