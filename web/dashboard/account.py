"""Signing in and out, and who may see which app.

A teammate signs in with their email and password (commands/accounts.py) and sees the apps
they are a teammate of. The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure
over https) holding the account's email and password generation: a new password ends the
sessions signed in before it. Asking for another app's page answers 404, as if it did not
exist; not signed in, the sign-in page, and back to the page asked for after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

from flask import Response, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from commands.accounts import SetPassword, set_password, signed_in
from commands.apps import load_app, recent_app
from commands.conversations import SetNotifications, set_notifications
from commands.handling import handle
from domain.account import Account
from domain.app import App
from domain.errors import InvalidValue
from domain.identity import account_key
from web.context import services, signin_limits
from web.dashboard.blueprint import dashboard, signin_page


@dataclass(frozen=True)
class Teammate:
    """The signed-in teammate, in one of their apps."""

    account: Account
    app: App
    admin: dict[str, str]
    apps: list[App]  # every app they are a teammate of, for the switcher


def current_account() -> Account | None:
    email = session.get("account")
    if not isinstance(email, str):
        return None
    account = services().store.get_as(Account, account_key(email))
    if account is None or account.generation != session.get("generation"):
        session.clear()
        return None
    return account


def _to_signin() -> NoReturn:
    """To the sign-in page and back; an htmx request (a form or a live refresh in a tab
    signed out elsewhere) sends the whole tab there rather than swapping the page in."""
    target = url_for("dashboard.signin", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request") == "true":
        page = urlsplit(request.referrer or "")  # the tab's own page, to come back to
        back = page.path + (f"?{page.query}" if page.query else "") if page.path else None
        target = url_for("dashboard.signin", next=_safe_next(back))
        abort(Response(status=204, headers={"HX-Redirect": target}))
    abort(redirect(target))


def teammate_of(app_id: str) -> Teammate:
    """The signed-in teammate of this app; else the sign-in page, or 404 for another's app."""
    account = current_account()
    if account is None:
        _to_signin()
    if app_id not in account.apps:
        abort(404)
    store = services().store
    apps = [recent_app(store, a) for a in account.apps]
    app = next(a for a in apps if a.app_id == app_id)
    admin = app.admins.get(account.apps[app_id])
    if admin is None:
        abort(404)
    return Teammate(account, app, admin, sorted(apps, key=lambda a: a.name.lower()))


@dashboard.errorhandler(CSRFError)
def stale_form(_error: CSRFError) -> ResponseReturnValue:
    """A form without its token, or from a session that has ended (signed out in another
    tab, or the cookie gone): nothing is done; signing out is done already; signed in still,
    the form itself was stale or forged; else sign in."""
    if request.endpoint == "dashboard.signout":
        return redirect(url_for("dashboard.signin"))
    if current_account() is not None:
        why = (
            "The form was sent without its security token, or had been open too long. "
            "Go back, reload the page and try again."
        )
        return render_template(
            "dashboard/problem.html", title="Nothing was done", explanation=why
        ), 400
    return signin_page("Your session had ended, so nothing was done. Please sign in again."), 400


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (never another host, or a scheme-relative //host)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@dashboard.get("/")
def home() -> ResponseReturnValue:
    account = current_account()
    if account is None:
        return redirect(url_for("dashboard.signin"))
    first = min(account.apps, key=lambda a: recent_app(services().store, a).name.lower())
    return redirect(url_for("dashboard.user_list", app_id=first))


@dashboard.route("/signin", methods=["GET", "POST"])
def signin() -> ResponseReturnValue:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_account() is not None:
            return redirect(target or url_for("dashboard.home"))
        return signin_page(target=target)
    email = request.form.get("email", "").strip().lower()[:255]
    password = request.form.get("password", "")[:1024]
    ip = request.remote_addr or "unknown"
    limits = signin_limits()
    wait = limits.attempt(email, ip)
    if wait:
        error = f"Too many attempts. Try again in {wait} seconds."
        return signin_page(error, email, target), 429, {"Retry-After": str(wait)}
    account = signed_in(services().store, email, password) if email and password else None
    if account is None or not account.apps:
        error = "That email and password do not match."  # never says which one was wrong
        return signin_page(error, email, target), 401
    limits.succeeded(email)
    session.clear()
    session["account"] = account.email
    session["generation"] = account.generation
    session.permanent = True
    return redirect(target or url_for("dashboard.home"))


@dashboard.post("/signout")
def signout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("dashboard.signin"))


@dashboard.route("/apps/<app_id>/account", methods=["GET", "POST"])
def own_account(app_id: str) -> ResponseReturnValue:
    """The teammate's own account: change their password (the current one first), and
    choose which emails about users' messages they get in this app."""
    who = teammate_of(app_id)
    error, done, notified = None, False, None
    if request.method == "POST" and request.form.get("form") == "notifications":
        setting = request.form.get("notifications", "")
        s = services()
        try:
            chosen = SetNotifications(app_id, who.admin["id"], setting)
            handle(set_notifications, chosen, s.store, s.clock)
        except InvalidValue:
            error = "Nothing was changed: choose one of the three kinds of email."
        else:
            notified = setting
    elif request.method == "POST":
        current = request.form.get("current", "")[:1024]
        new, again = request.form.get("password", ""), request.form.get("again", "")
        wait = signin_limits().attempt(who.account.email, request.remote_addr or "unknown")
        if wait:
            error = f"Too many attempts. Try again in {wait} seconds."
        elif signed_in(services().store, who.account.email, current) is None:
            error = "Your current password is not right."
        elif new != again:
            error = "The two new passwords differ."
        else:
            try:
                s = services()
                changed = handle(
                    set_password, SetPassword(who.account.email, new), s.store, s.clock
                )
            except InvalidValue as invalid:
                error = f"Password: {invalid.reason}."
            else:
                session["generation"] = changed.generation  # this session goes on; others end
                done = True
    # As it stands now (the recent copy in `who` may be a moment older than a change).
    admin = load_app(services().store, app_id).admins.get(who.admin["id"], who.admin)
    shown = render_template(
        "dashboard/account.html",
        who=who,
        error=error,
        done=done,
        notified=notified,
        notifications=admin.get("notifications", "mine"),
        failed=request.form.get("form", "password") if error else None,
    )
    return shown, 400 if error else 200
