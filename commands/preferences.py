"""A teammate's own choices in the dashboard (domain/preferences.py)."""

from __future__ import annotations

from dataclasses import dataclass

from commands.clock import Clock
from commands.store import Parley
from domain.preferences import Preferences, preferences_key


@dataclass(frozen=True)
class PickColumns:
    email: str  # the teammate's account
    app_id: str
    keys: list[str]  # custom attribute keys the user list shows


def preferences(store: Parley, email: str, app_id: str) -> Preferences:
    found = store.get_as(Preferences, preferences_key(email, app_id))
    return found or Preferences(email=email, app_id=app_id)


def pick_columns(cmd: PickColumns, store: Parley, clock: Clock) -> int:
    chosen = preferences(store, cmd.email, cmd.app_id)
    chosen.pick_columns(cmd.keys)
    return store.save_all(chosen)
