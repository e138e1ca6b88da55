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
from domain.app import App, hash_api_key
from domain.errors import MissingUserIdentifier
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
    app = load_app(store, cmd.app_id)
    if app.admin_with_email(cmd.email) is not None:
        raise AdminExists(cmd.email)
    admin_id = str(len(app.admins) + 1)
    app.add_admin(admin_id=admin_id, email=cmd.email, name=cmd.name)
    account = store.get_as(Account, account_key(cmd.email)) or Account(email=cmd.email)
    account.join(cmd.app_id, admin_id)
    store.save_all(app, account)
    return app.admins[admin_id]


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
