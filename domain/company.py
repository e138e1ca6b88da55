"""Companies group users and carry revenue (monthly_spend) and custom data."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identity import company_key
from domain.values import CustomValue, changes

STANDARD = ("name", "plan", "monthly_spend", "remote_created_at")


class Company(Aggregate):
    @staticmethod
    def create_id(app_id: str, company_id: str) -> UUID:
        return company_key(app_id, company_id)

    @event("Created")
    def __init__(self, app_id: str, company_id: str, at: datetime) -> None:
        self.app_id = app_id
        self.company_id = company_id
        self.created_at = at
        self.name: str | None = None
        self.plan: str | None = None
        self.monthly_spend: float | None = None
        self.remote_created_at: int | None = None
        self.custom: dict[str, CustomValue] = {}
        self.tags: list[str] = []
        self.deleted = False

    def update(self, attributes: dict[str, Any], custom: dict[str, CustomValue]) -> None:
        """Record only what actually changes, so repeated pings write nothing."""
        found = changes(self, attributes, self.custom, custom)
        if found is not None:
            self._updated(*found)

    @event("Updated")
    def _updated(self, attributes: dict[str, Any], custom: dict[str, CustomValue]) -> None:
        for key, value in attributes.items():
            setattr(self, key, value)
        self.custom.update(custom)

    def tag(self, tag_id: str) -> None:
        if tag_id not in self.tags:
            self._tagged(tag_id)

    @event("Tagged")
    def _tagged(self, tag_id: str) -> None:
        self.tags.append(tag_id)

    def untag(self, tag_id: str) -> None:
        if tag_id in self.tags:
            self._untagged(tag_id)

    @event("Untagged")
    def _untagged(self, tag_id: str) -> None:
        self.tags.remove(tag_id)

    # -- lifecycle --------------------------------------------------------------------

    @event("Deleted")
    def delete(self, at: datetime) -> None:
        """Gone from every list; its users leave it (commands.companies.delete_company)."""
        self.deleted = True

    def restore(self, at: datetime) -> None:
        """A deleted company named again starts over, empty, under the same id."""
        self._restored(self.app_id, self.company_id, at)

    @event("Restored")
    def _restored(self, app_id: str, company_id: str, at: datetime) -> None:
        self.deleted = False
        self.created_at = at
        self.name = self.plan = None
        self.monthly_spend = None
        self.remote_created_at = None
        self.custom = {}
        self.tags = []
