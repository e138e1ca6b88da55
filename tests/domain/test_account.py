"""A teammate's account (no I/O): one per email, the apps it belongs to, password generations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.account import Account, check_password
from domain.errors import InvalidValue
from domain.identity import account_key
from tests.domain.given import recorded, settled

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_an_account_is_one_per_email_whatever_its_case() -> None:
    account = Account(email=" Ann@Acme.IO ")
    assert account.email == "ann@acme.io"
    assert account.id == account_key("ann@acme.io") == account_key("ANN@acme.io")


def test_joining_an_app_twice_records_it_once() -> None:
    account = settled(Account(email="ann@acme.io"))
    assert isinstance(account, Account)
    account.join("app1", "1")
    account.join("app1", "1")
    account.join("app2", "3")
    assert [name for name, _ in recorded(account)] == ["Joined", "Joined"]
    assert account.apps == {"app1": "1", "app2": "3"}


def test_each_new_password_starts_a_new_generation_and_keeps_only_the_hash() -> None:
    account = settled(Account(email="ann@acme.io"))
    assert isinstance(account, Account)
    account.set_password("$argon2id$v=19$first", NOW)
    account.set_password("$argon2id$v=19$second", NOW)
    assert account.generation == 2 and account.password_hash == "$argon2id$v=19$second"
    fields = [f for _, f in recorded(account)]
    assert all(set(f) == {"password_hash", "at"} for f in fields)


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_a_password_too_short_or_too_long_is_refused(password: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        check_password(password)
    assert refused.value.field == "password"


def test_an_invitation_is_sent_once_and_leaving_the_last_app_ends_sessions_and_links() -> None:
    account = settled(Account(email="bob@acme.io"))
    assert isinstance(account, Account)
    with pytest.raises(InvalidValue):
        account.invite("app1", by="1", invitation="i1")  # not a teammate of it
    account.join("app1", "2")
    account.join("app2", "5")
    account.invite("app1", by="1", invitation="i1")
    assert account.invitation_sent("i1") and not account.invitation_sent("i1")
    assert [name for name, _ in recorded(account)] == [
        "Joined",
        "Joined",
        "Invited",
        "InvitationSent",
    ]
    account.invite("app1", by="1", invitation="i2")
    account.leave("app1")  # its invitation is no longer due
    assert account.apps == {"app2": "5"} and account.invitations == {}
    assert account.generation == 0  # still signed in for app2
    account.leave("app2")
    assert account.generation == 1  # no app left: every session and invitation link ends
