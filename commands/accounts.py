"""Teammates' passwords and signing in (hashes by argon2-cffi: Argon2id, its defaults), and
the invitation that lets a new teammate choose their first one."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from commands.apps import load_app
from commands.clock import Clock
from commands.email import Mailing
from commands.errors import CommandError
from commands.handling import handle
from commands.mail import Transport
from commands.notifications import app_name_domain
from commands.store import Parley
from commands.tokens import INVITATION_DAYS, invitation_token
from domain.account import Account, check_password
from domain.app import App
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


class InvitationUsed(CommandError):
    def __init__(self) -> None:
        super().__init__("this invitation link was used already or is no longer valid")


@dataclass(frozen=True)
class AcceptInvitation:
    """An invited teammate's first password, by the link (`generation`: the account's, as
    the link names it)."""

    email: str
    generation: int
    password: str


def accept_invitation(cmd: AcceptInvitation, store: Parley, clock: Clock) -> Account:
    """Works once: the new password starts the account's next generation, which the link
    does not name. Never replaces a password set otherwise."""
    check_password(cmd.password)
    account = store.get_as(Account, account_key(cmd.email))
    if (
        account is None
        or account.generation != cmd.generation
        or account.password_hash is not None
        or not account.apps
    ):
        raise InvitationUsed()
    account.set_password(HASHER.hash(cmd.password), clock.now())
    store.save_all(account)
    return account


@dataclass(frozen=True)
class InvitationSending:
    email: str
    invitation: str


def record_invitation_sent(cmd: InvitationSending, store: Parley, clock: Clock) -> bool:
    """Whether the invitation's email was still due (it is now recorded as sent)."""
    account = store.get_as(Account, account_key(cmd.email))
    if account is None or not account.invitation_sent(cmd.invitation):
        return False
    store.save_all(account)
    return True


def send_invitation(
    store: Parley,
    clock: Clock,
    transport: Transport,
    mailing: Mailing,
    email: str,
    invitation: str,
) -> bool:
    """Email an invited teammate, at most once (recorded as sent before it goes: a process
    dying between the two loses it, and the teammates page offers to send another);
    whether it was sent. While they have no password it carries the link to set one."""
    account = store.get_as(Account, account_key(email))
    due = account.invitations.get(invitation) if account is not None else None
    if account is None or due is None or due["app_id"] not in account.apps:
        return False
    app = load_app(store, str(due["app_id"]))
    inviter = app.teammate(str(due["by"])) if due["by"] else None
    link = None
    if account.password_hash is None:
        made = invitation_token(
            mailing.secret_key, account.email, account.generation, int(clock.now().timestamp())
        )
        link = f"{mailing.base_url.rstrip('/')}/invitation/{made}"
    message = invitation_email(app, account, inviter, link, mailing.base_url)
    if not handle(
        record_invitation_sent, InvitationSending(account.email, invitation), store, clock
    ):
        return False
    transport.send(message)
    return True


def invitation_email(
    app: App,
    account: Account,
    inviter: dict[str, str] | None,
    link: str | None,
    base_url: str,
) -> EmailMessage:
    who = inviter["name"] if inviter else "A teammate"
    message = EmailMessage(policy=policy.default)
    message["Subject"] = " ".join(f"{who} added you to {app.name} on Parley".split())
    message["From"] = formataddr(("Parley", f"invitations@{app_name_domain(app.name)}"))
    message["To"] = account.email
    message["Message-ID"] = make_msgid(domain=app_name_domain(app.name))
    message["Auto-Submitted"] = "auto-generated"
    if link is not None:
        step = (
            f"Choose your password to sign in (the link works once, for "
            f"{INVITATION_DAYS} days):\n\n{link}\n"
        )
        button = f'<p><a href="{html.escape(link)}">Choose your password</a></p>'
        after = f"The link works once, for {INVITATION_DAYS} days."
    else:
        signin = f"{base_url.rstrip('/')}/signin"
        step = f"Sign in with your Parley password as usual:\n\n{signin}\n"
        button = f'<p><a href="{html.escape(signin)}">Sign in</a></p>'
        after = "Sign in with your Parley password as usual."
    message.set_content(
        f"{who} added you as a teammate of {app.name} on Parley: you will see its users, "
        f"its conversations and its settings.\n\n{step}\n"
        "If you did not expect this email, you can ignore it.\n"
    )
    message.add_alternative(
        f"<p>{html.escape(who)} added you as a teammate of <strong>{html.escape(app.name)}"
        "</strong> on Parley: you will see its users, its conversations and its settings.</p>"
        f"{button}<p>{html.escape(after)} If you did not expect this email, you can ignore "
        "it.</p>",
        subtype="html",
    )
    return message
