"""A teammate's account: how they sign in to the dashboard (seed: teammates "log in"), one
per email address, and the apps they are a teammate of (an app's admins name them by email).

Only a password hash is ever recorded (Argon2id, made by commands/accounts.py). Each new
password starts a new generation: sessions signed in under an older one end, and so do
invitation links made for an older one. Leaving the last app starts one too.
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
        # invitation -> {"app_id", "by"}: the invitation emails not sent yet
        self.invitations: dict[str, dict[str, str | None]] = {}
        self.invited = False  # ever invited (by the dashboard), for the teammates page

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

    def leave(self, app_id: str) -> None:
        """No longer a teammate of this app (removed by another teammate)."""
        if app_id in self.apps:
            self._left(app_id)

    @event("Left")
    def _left(self, app_id: str) -> None:
        del self.apps[app_id]
        self.invitations = {k: v for k, v in self.invitations.items() if v["app_id"] != app_id}
        if not self.apps:
            self.generation += 1  # nothing left to see: signed out everywhere, links dead

    def invite(self, app_id: str, by: str | None, invitation: str) -> None:
        """An email is due, telling them they joined the app (`by`: the teammate who added
        them) and, while they have no password, with a link to set one."""
        if app_id not in self.apps:
            raise InvalidValue("app_id", f"not a teammate of app {app_id!r}")
        self._invited(app_id, by, invitation)

    @event("Invited")
    def _invited(self, app_id: str, by: str | None, invitation: str) -> None:
        self.invitations[invitation] = {"app_id": app_id, "by": by}
        self.invited = True

    def invitation_sent(self, invitation: str) -> bool:
        """Record the invitation's email as sent, once; whether it was still due."""
        if invitation not in self.invitations:
            return False
        self._invitation_sent(invitation)
        return True

    @event("InvitationSent")
    def _invitation_sent(self, invitation: str) -> None:
        del self.invitations[invitation]
