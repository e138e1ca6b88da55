"""Teammates' passwords and signing in (hashes by argon2-cffi: Argon2id, its defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from commands.clock import Clock
from commands.errors import CommandError
from commands.store import Parley
from domain.account import Account, check_password
from domain.identity import account_key

HASHER = PasswordHasher()


@cache
def _nobody() -> str:
    """Checked when no account has the address, so that a wrong address takes as long as a
    wrong password and the answer never says which it was (made on first use: a hash costs
    64 MiB and tens of milliseconds, which no process should pay at start-up)."""
    return HASHER.hash("not anyone's password")


class NotATeammate(CommandError):
    def __init__(self, email: str) -> None:
        super().__init__(f"no app has a teammate with email {email!r}")


@dataclass(frozen=True)
class SetPassword:
    """A teammate's new password (`memberships`: app_id -> admin id, for a teammate added
    before accounts existed, found by the caller among the apps' admins)."""

    email: str
    password: str
    memberships: dict[str, str] = field(default_factory=dict)


def set_password(cmd: SetPassword, store: Parley, clock: Clock) -> Account:
    check_password(cmd.password)
    account = store.get_as(Account, account_key(cmd.email)) or Account(email=cmd.email)
    for app_id, admin_id in cmd.memberships.items():
        account.join(app_id, admin_id)
    if not account.apps:
        raise NotATeammate(cmd.email)
    account.set_password(HASHER.hash(cmd.password), clock.now())
    store.save_all(account)
    return account


def signed_in(store: Parley, email: str, password: str) -> Account | None:
    """The account these credentials open, or None (whichever of the two was wrong)."""
    account = store.get_as(Account, account_key(email))
    stored = account.password_hash if account is not None else None
    try:
        HASHER.verify(stored or _nobody(), password)
    except (VerificationError, InvalidHashError):
        return None
    return account if stored is not None else None
