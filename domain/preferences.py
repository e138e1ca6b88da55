"""A teammate's own choices in one app's dashboard: which custom attributes the user list
shows as columns (seed: the user list shows "any custom data you send"). One aggregate per
teammate and app, so one teammate's choice never changes another's list."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.identity import NAMESPACE
from domain.values import CUSTOM_KEY

MAX_COLUMNS = 12


def preferences_key(email: str, app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"preferences/{email.strip().lower()}/{app_id}")


class Preferences(Aggregate):
    @staticmethod
    def create_id(email: str, app_id: str) -> UUID:
        return preferences_key(email, app_id)

    def __init__(self, email: str, app_id: str) -> None:
        self.email = email.strip().lower()
        self.app_id = app_id
        self.columns: list[str] = []  # custom attribute keys, in the order picked

    def pick_columns(self, keys: list[str]) -> None:
        chosen = list(dict.fromkeys(k.strip() for k in keys if k.strip()))
        if len(chosen) > MAX_COLUMNS:
            raise InvalidValue("columns", f"pick at most {MAX_COLUMNS} columns")
        for key in chosen:
            if not CUSTOM_KEY.match(key):
                raise InvalidValue("columns", f"{key!r} is not a custom attribute name")
        if chosen != self.columns:
            self._columns_picked(chosen)

    @event("ColumnsPicked")
    def _columns_picked(self, keys: list[str]) -> None:
        self.columns = keys
