"""The app's teammates (Settings, Teammates): who they are, adding one (they are emailed an
invitation by the reactions, never by the view), removing one (after a confirmation page),
and the invitation link's page, where a new teammate chooses their password.

Removing a teammate takes the app off their account in the same append: `teammate_of` reads
the account as it stands on every request, so their open sessions answer 404 at once.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from commands.accounts import AcceptInvitation, InvitationUsed, accept_invitation
from commands.apps import (
    InviteAdmin,
    RemoveAdmin,
    ResendInvitation,
    invite_admin,
    load_app,
    remove_admin,
    resend_invitation,
)
from commands.errors import AdminExists
from commands.handling import handle
from commands.tokens import INVITATION_DAYS, read_invitation_token
from domain.account import Account
from domain.app import App
from domain.errors import InvalidValue
from domain.identity import account_key
from web.context import services
from web.dashboard.account import Teammate, current_account, teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.settings_page import page

NOTIFY = {"all": "Every user message", "mine": "Their conversations", "none": "None"}


def roster(app: App) -> list[dict[str, Any]]:
    """The teammates, by name, each with whether they have chosen a password yet."""
    store = services().store
    listed = []
    for admin in sorted(app.admins.values(), key=lambda a: a["name"].lower()):
        account = store.get_as(Account, account_key(admin["email"]))
        listed.append(
            {
                **admin,
                "active": account is not None and account.password_hash is not None,
                "invited": account is not None and account.invited,
                "notify": NOTIFY[admin.get("notifications", "mine")],
            }
        )
    return listed


def _teammates_page(who: Teammate, status: int = 200, **more: Any) -> ResponseReturnValue:
    app = load_app(services().store, who.app.app_id)
    listed = roster(app)
    return page("dashboard/settings_teammates.html", who, status, app=app, team=listed, **more)


@dashboard.route("/apps/<app_id>/settings/teammates", methods=["GET", "POST"])
def settings_teammates(app_id: str) -> ResponseReturnValue:
    """The list, and the form adding a teammate (name and email)."""
    who = teammate_of(app_id)
    if request.method == "GET":
        return _teammates_page(who)
    name = request.form.get("name", "").strip()
    email = request.form.get("email", "").strip().lower()
    s = services()
    try:
        added = handle(
            invite_admin, InviteAdmin(app_id, email, name, who.admin["id"]), s.store, s.clock
        )
    except AdminExists:
        error = f"{email} is a teammate already."
        return _teammates_page(who, 400, error=error, name=name, email=email)
    except InvalidValue as invalid:
        error = f"Nobody was added. {invalid.field.capitalize()}: {invalid.reason}."
        return _teammates_page(who, 400, error=error, name=name, email=email)
    flash(f"{added['name']} is a teammate now. An invitation is on its way to {added['email']}.")
    return redirect(url_for("dashboard.settings_teammates", app_id=app_id))


@dashboard.post("/apps/<app_id>/settings/teammates/<admin_id>/invitation")
def settings_teammates_resend(app_id: str, admin_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    try:
        again = handle(
            resend_invitation, ResendInvitation(app_id, admin_id, who.admin["id"]), s.store, s.clock
        )
    except InvalidValue:
        abort(404)
    flash(f"Another invitation is on its way to {again['email']}.")
    return redirect(url_for("dashboard.settings_teammates", app_id=app_id))


@dashboard.route("/apps/<app_id>/settings/teammates/<admin_id>/remove", methods=["GET", "POST"])
def settings_teammates_remove(app_id: str, admin_id: str) -> ResponseReturnValue:
    """A page asking to confirm (it works without scripts), then the removal."""
    who = teammate_of(app_id)
    app = load_app(services().store, app_id)
    leaving = app.admins.get(admin_id)
    if leaving is None:
        abort(404)
    if request.method == "GET":
        return page("dashboard/settings_remove.html", who, app=app, leaving=leaving)
    s = services()
    try:
        handle(remove_admin, RemoveAdmin(app_id, admin_id, who.admin["id"]), s.store, s.clock)
    except InvalidValue as invalid:
        error = f"{leaving['name']} is still a teammate: {invalid.reason}."
        return page(
            "dashboard/settings_remove.html", who, 400, app=app, leaving=leaving, error=error
        )
    flash(f"{leaving['name']} is no longer a teammate of {app.name}.")
    return redirect(url_for("dashboard.settings_teammates", app_id=app_id))


def _invited(token: str) -> Account | None:
    """The account an invitation link still opens: genuine, not expired, not used (the
    account's password generation is the one it names), and a teammate of some app."""
    s = services()
    now = int(s.clock.now().timestamp())
    named = read_invitation_token(s.config.secret_key, token, now)
    if named is None:
        return None
    account = s.store.get_as(Account, account_key(named[0]))
    if account is None or account.generation != named[1] or account.password_hash is not None:
        return None
    return account if account.apps else None


@dashboard.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str) -> ResponseReturnValue:
    """A new teammate chooses their password, then is signed in. Opening the link changes
    nothing (mail scanners follow links); only the form does."""
    account = _invited(token)
    if account is None:
        return render_template("dashboard/invitation.html", dead=True, days=INVITATION_DAYS), 404
    store = services().store
    apps = sorted(load_app(store, a).name for a in account.apps)
    shown = {"account": account, "apps": apps, "signed_in": current_account()}
    if request.method == "GET":
        return render_template("dashboard/invitation.html", **shown)
    password, again = request.form.get("password", "")[:2048], request.form.get("again", "")
    error = None
    if password != again:
        error = "The two passwords differ."
    else:
        s = services()
        try:
            cmd = AcceptInvitation(account.email, account.generation, password)
            done = handle(accept_invitation, cmd, s.store, s.clock)
        except InvalidValue as invalid:
            error = f"Password: {invalid.reason}."
        except InvitationUsed:
            return render_template(
                "dashboard/invitation.html", dead=True, days=INVITATION_DAYS
            ), 404
        else:
            session.clear()
            session["account"] = done.email
            session["generation"] = done.generation
            session.permanent = True
            return redirect(url_for("dashboard.home"))
    return render_template("dashboard/invitation.html", error=error, **shown), 400
