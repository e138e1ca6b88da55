"""Apps and their admins: created from the CLI, each change an event."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from commands.clock import Clock
from commands.errors import AdminExists, AppNotFound, InvalidUserHash
from commands.store import Parley
from domain.account import Account
from domain.app import App, check_teammate, hash_api_key
from domain.errors import InvalidValue, MissingUserIdentifier
from domain.identity import account_key, app_key
from domain.segments import Segments

APP_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class CreateApp:
    name: str


@dataclass(frozen=True)
class CreatedApp:
    app_id: str
    api_key: str
    secret: str


@dataclass(frozen=True)
class AddAdmin:
    app_id: str
    email: str
    name: str


@dataclass(frozen=True)
class InviteAdmin:
    """A teammate added from the dashboard (`by`: the teammate adding them), who is emailed
    an invitation (workers/reactions.py)."""

    app_id: str
    email: str
    name: str
    by: str


@dataclass(frozen=True)
class ResendInvitation:
    app_id: str
    admin_id: str
    by: str


@dataclass(frozen=True)
class RemoveAdmin:
    app_id: str
    admin_id: str
    by: str | None  # the teammate removing them (None: from the command line)


@dataclass(frozen=True)
class RotateApiKey:
    app_id: str
    by: str | None


@dataclass(frozen=True)
class SetSecureMode:
    app_id: str
    on: bool


@dataclass(frozen=True)
class SetInboxStyle:
    app_id: str
    style: str  # none | simple | advanced
    colour: str | None = None  # simple: the button's background, #rgb or #rrggbb
    selector: str | None = None  # advanced: the customer's activator link(s)
    count: bool = True  # advanced: write the unread count into the activator


def load_app(store: Parley, app_id: str) -> App:
    app = store.get_as(App, app_key(app_id))
    if app is None:
        raise AppNotFound(app_id)
    return app


def recent_app(store: Parley, app_id: str) -> App:
    """The app for read-only checks (API key, secure mode); at most a couple of seconds old."""
    app = store.recent(App, app_key(app_id))
    if app is None:
        raise AppNotFound(app_id)
    return app


# Intercom's three segments every app starts with (teammates may rename or delete them).
DEFAULT_SEGMENTS: list[tuple[str, dict[str, Any]]] = [
    ("New", {"attribute": "signed_up_at", "operator": "less_than_days_ago", "value": 7}),
    ("Active", {"attribute": "last_seen_at", "operator": "less_than_days_ago", "value": 30}),
    ("Slipping away", {"attribute": "last_seen_at", "operator": "more_than_days_ago", "value": 30}),
]


def create_app(cmd: CreateApp, store: Parley, clock: Clock) -> CreatedApp:
    """A new workspace with a fresh app_id, REST API key (stored hashed), secure-mode secret
    and the three default segments.
    A clash of random app_ids surfaces as a conflict on the deterministic id: `handle` draws
    again."""
    app_id = "".join(secrets.choice(APP_ID_ALPHABET) for _ in range(8))
    api_key = secrets.token_urlsafe(30)
    secret = secrets.token_hex(32)
    app = App(
        app_id=app_id,
        name=cmd.name,
        api_key_hash=hash_api_key(api_key),
        secret=secret,
        at=clock.now(),
    )
    segments = Segments(app_id=app_id)
    for name, definition in DEFAULT_SEGMENTS:
        segments.create(name, definition, clock.now())
    store.save_all(app, segments)
    return CreatedApp(app_id=app_id, api_key=api_key, secret=secret)


def add_admin(cmd: AddAdmin, store: Parley, clock: Clock) -> dict[str, str]:
    """A teammate who can use the dashboard and inbox; their account (one per email, across
    apps) records that they are one of this app's, in the same append."""
    app, account, admin = _joined(store, cmd.app_id, cmd.email, cmd.name)
    store.save_all(app, account)
    return admin


def invite_admin(cmd: InviteAdmin, store: Parley, clock: Clock) -> dict[str, str]:
    """As `add_admin`, and an invitation email is due (in the same append)."""
    check_teammate(cmd.email, cmd.name)
    app, account, admin = _joined(store, cmd.app_id, cmd.email.strip().lower(), cmd.name.strip())
    account.invite(cmd.app_id, cmd.by, secrets.token_hex(8))
    store.save_all(app, account)
    return admin


def _joined(
    store: Parley, app_id: str, email: str, name: str
) -> tuple[App, Account, dict[str, str]]:
    app = load_app(store, app_id)
    if app.admin_with_email(email) is not None:
        raise AdminExists(email)
    admin_id = app.next_admin_id()
    app.add_admin(admin_id=admin_id, email=email, name=name)
    account = store.get_as(Account, account_key(email)) or Account(email=email)
    account.join(app_id, admin_id)
    return app, account, app.admins[admin_id]


def resend_invitation(cmd: ResendInvitation, store: Parley, clock: Clock) -> dict[str, str]:
    """Another invitation email for a teammate (the links sent before keep working until one
    of them sets the password)."""
    app = load_app(store, cmd.app_id)
    admin = app.admins.get(cmd.admin_id)
    if admin is None:
        raise InvalidValue("admin_id", f"no teammate {cmd.admin_id!r} in this app")
    account = store.get_as(Account, account_key(admin["email"])) or Account(email=admin["email"])
    account.join(cmd.app_id, cmd.admin_id)  # a teammate added before accounts existed
    account.invite(cmd.app_id, cmd.by, secrets.token_hex(8))
    store.save_all(account)
    return admin


def remove_admin(cmd: RemoveAdmin, store: Parley, clock: Clock) -> dict[str, str]:
    """The teammate leaves the app and their account loses it, in one append: their sessions
    see no more of it from the next request on."""
    app = load_app(store, cmd.app_id)
    app.remove_admin(cmd.admin_id, cmd.by)
    removed = app.former_admins[cmd.admin_id]
    account = store.get_as(Account, account_key(removed["email"]))
    if account is not None and account.apps.get(cmd.app_id) == cmd.admin_id:
        account.leave(cmd.app_id)
    store.save_all(app, account)
    return removed


def rotate_api_key(cmd: RotateApiKey, store: Parley, clock: Clock) -> str:
    """A new REST API key, returned once (only its hash is kept); the old one is refused from
    now on (see `authorised_app`)."""
    app = load_app(store, cmd.app_id)
    api_key = secrets.token_urlsafe(30)
    app.rotate_api_key(hash_api_key(api_key), cmd.by)
    store.save_all(app)
    return api_key


def authorised_app(store: Parley, app_id: str, api_key: str) -> App | None:
    """The app this REST API key opens, or None. Checked against the app as it stands, not a
    recent copy, so that a rotated key is refused at once in every process (one short query
    per call); an unknown app_id is answered from the recent copies (no query)."""
    recent_app(store, app_id)
    app = load_app(store, app_id)
    return app if app.accepts_api_key(api_key) else None


def set_secure_mode(cmd: SetSecureMode, store: Parley, clock: Clock) -> None:
    app = load_app(store, cmd.app_id)
    if app.secure_mode != cmd.on:
        app.set_secure_mode(on=cmd.on)
        store.save_all(app)


def set_inbox_style(
    cmd: SetInboxStyle, store: Parley, clock: Clock
) -> dict[str, str | bool | None]:
    """How the widget shows the inbox on the customer's pages; returns the new setting."""
    app = load_app(store, cmd.app_id)
    app.set_inbox_style(cmd.style, colour=cmd.colour, selector=cmd.selector, count=cmd.count)
    store.save_all(app)
    return app.inbox()


def check_snippet_user(
    store: Parley, app_id: str, user_id: str | None, email: str | None, user_hash: str | None
) -> None:
    """In secure mode, what the snippet sends must carry the user's HMAC (user_id, else email)."""
    identifier = user_id or email
    if identifier is None:
        raise MissingUserIdentifier()
    if not recent_app(store, app_id).accepts_user_hash(identifier, user_hash):
        raise InvalidUserHash()
