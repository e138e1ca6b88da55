"""A teammate's account: how they sign in to the dashboard (seed: teammates "log in"), one
per email address, and the apps they are a teammate of (an app's admins name them by email).

Only a password hash is ever recorded (Argon2id, made by commands/accounts.py). Each new
password starts a new generation: sessions signed in under an older one end.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.identity import account_key

MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def check_password(password: str) -> None:
    """A password a teammate may choose: long enough to resist guessing, not absurdly long."""
    if len(password) < MIN_PASSWORD:
        raise InvalidValue("password", f"use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidValue("password", f"use at most {MAX_PASSWORD} characters")


class Account(Aggregate):
    @staticmethod
    def create_id(email: str) -> UUID:
        return account_key(email)

    def __init__(self, email: str) -> None:
        self.email = email.strip().lower()
        self.apps: dict[str, str] = {}  # app_id -> the teammate's admin id in that app
        self.password_hash: str | None = None
        self.generation = 0

    def join(self, app_id: str, admin_id: str) -> None:
        if self.apps.get(app_id) != admin_id:
            self._joined(app_id, admin_id)

    @event("Joined")
    def _joined(self, app_id: str, admin_id: str) -> None:
        self.apps[app_id] = admin_id

    def set_password(self, password_hash: str, at: datetime) -> None:
        self._password_set(password_hash, int(at.timestamp()))

    @event("PasswordSet")
    def _password_set(self, password_hash: str, at: int) -> None:
        self.password_hash = password_hash
        self.generation += 1
