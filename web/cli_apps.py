"""`parley app ...` and `parley admin ...`: apps, their settings and their teammates."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from marshmallow import ValidationError

from commands.accounts import NotATeammate, SetPassword, set_password
from commands.apps import (
    AddAdmin,
    CreateApp,
    SetInboxStyle,
    SetSecureMode,
    add_admin,
    create_app,
    load_app,
    set_inbox_style,
    set_secure_mode,
)
from commands.clock import SystemClock
from commands.conversations import SetDefaultAssignee, set_default_assignee
from commands.errors import CommandError
from commands.handling import handle
from commands.schemas import AdminCreateSchema, AppCreateSchema
from commands.store import Parley
from domain.errors import InvalidValue
from queries.history import app_ids
from web.config import Config
from web.errors import explained


def config() -> Config:
    return Config.from_env()


def checked(schema: Any, data: dict[str, Any]) -> Any:
    try:
        return schema.load(data)
    except ValidationError as error:
        raise click.UsageError(explained(error.messages)) from None


@click.group("app")
def app_group() -> None:
    """Apps (workspaces)."""


@app_group.command("create")
@click.argument("name")
def app_create(name: str) -> None:
    """Create an app; prints JSON with app_id, api_key and secret (shown only once) and the
    app's incoming email address."""
    checked(AppCreateSchema(), {"name": name})
    settings = config()
    store = Parley(settings.database_url)
    created = handle(create_app, CreateApp(name), store, SystemClock())
    incoming = settings.incoming_address(created.app_id)
    click.echo(json.dumps({**created.__dict__, "incoming_email": incoming}))


@app_group.command("secure-mode")
@click.argument("app_id")
@click.argument("state", type=click.Choice(["on", "off"]))
def app_secure_mode(app_id: str, state: str) -> None:
    """Turn secure mode on or off for APP_ID."""
    store = Parley(config().database_url)
    try:
        handle(set_secure_mode, SetSecureMode(app_id, state == "on"), store, SystemClock())
    except CommandError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"secure mode {state} for {app_id}")


@app_group.command("assign-to")
@click.argument("app_id")
@click.argument("admin_id")
def app_assign_to(app_id: str, admin_id: str) -> None:
    """New conversations from users go to ADMIN_ID (`none`: they stay unassigned)."""
    store = Parley(config().database_url)
    try:
        assignee = SetDefaultAssignee(app_id, None if admin_id == "none" else admin_id)
        handle(set_default_assignee, assignee, store, SystemClock())
    except (CommandError, InvalidValue) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"new conversations in {app_id} go to {admin_id}")


@app_group.command("inbox")
@click.argument("app_id")
@click.argument("style", type=click.Choice(["none", "simple", "advanced"]))
@click.option("--colour", help="simple: the button's colour, #rgb or #rrggbb")
@click.option("--selector", help="advanced: CSS selector of your inbox link(s)")
@click.option("--no-count", is_flag=True, help="advanced: leave out the unread count")
def app_inbox(
    app_id: str, style: str, colour: str | None, selector: str | None, no_count: bool
) -> None:
    """How the widget shows the inbox: none (default), simple or advanced; prints it as JSON."""
    store = Parley(config().database_url)
    cmd = SetInboxStyle(app_id, style, colour=colour, selector=selector, count=not no_count)
    try:
        setting = handle(set_inbox_style, cmd, store, SystemClock())
    except (CommandError, InvalidValue) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(setting))


@click.group("admin")
def admin_group() -> None:
    """Admins (teammates)."""


@admin_group.command("create")
@click.option("--app", "app_id", required=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
def admin_create(app_id: str, email: str, name: str) -> None:
    """Add a teammate to an app; prints the admin as JSON."""
    checked(AdminCreateSchema(), {"app_id": app_id, "email": email, "name": name})
    store = Parley(config().database_url)
    try:
        admin = handle(add_admin, AddAdmin(app_id, email, name), store, SystemClock())
    except CommandError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(admin))


@admin_group.command("password")
@click.argument("email")
def admin_password(email: str) -> None:
    """Set the dashboard password of the teammate with EMAIL (in every app they belong to),
    read from standard input: asked twice, hidden, on a terminal; else its first line."""
    if sys.stdin.isatty():
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    store = Parley(config().database_url)
    try:
        cmd = SetPassword(email, password, memberships(store, email))
        account = handle(set_password, cmd, store, SystemClock())
    except (NotATeammate, InvalidValue) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"password set for {account.email} ({len(account.apps)} app(s))")


def memberships(store: Parley, email: str) -> dict[str, str]:
    """The apps with a teammate of this email (app_id -> their admin id)."""
    found = {}
    for app_id in app_ids(store.recorder):
        admin = load_app(store, app_id).admin_with_email(email)
        if admin is not None:
            found[app_id] = admin["id"]
    return found
