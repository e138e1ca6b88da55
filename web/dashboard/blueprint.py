"""The dashboard's blueprint: every response carries a Content-Security-Policy without inline
scripts, refuses framing, keeps the referrer to this site and is never cached; every form post
(and htmx request) must carry its CSRF token."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import NotFound

from web.errors import for_people

dashboard = Blueprint("dashboard", __name__)
csrf = CSRFProtect()  # checks only what `protect` below asks it to (WTF_CSRF_CHECK_DEFAULT off)

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


@dashboard.before_request
def protect() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@dashboard.after_app_request
def secure(response: Response) -> Response:
    """On every dashboard answer, its error pages for unknown /apps/... paths included."""
    if not for_people():
        return response
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@dashboard.errorhandler(NotFound)
def not_found(_error: NotFound) -> ResponseReturnValue:
    """Another app's page, or one that does not exist: the same page either way."""
    return render_template("dashboard/missing.html"), 404


@dashboard.errorhandler(CSRFError)
def stale_form(_error: CSRFError) -> ResponseReturnValue:
    """A form without its token, or from a session that has ended (signed out in another
    tab, or the cookie gone): nothing is done; signing out is done already; else sign in."""
    if request.endpoint == "dashboard.signout":
        return redirect(url_for("dashboard.signin"))
    from web.dashboard.account import current_account  # it builds on this module

    if current_account() is not None:  # signed in still: the form itself was stale or forged
        why = (
            "The form was sent without its security token, or had been open too long. "
            "Go back, reload the page and try again."
        )
        return render_template(
            "dashboard/problem.html", title="Nothing was done", explanation=why
        ), 400
    return signin_page("Your session had ended, so nothing was done. Please sign in again."), 400


def signin_page(error: str | None = None, email: str = "", target: str | None = None) -> str:
    """The sign-in form, with what went wrong, the address typed and where to go after."""
    return render_template("dashboard/signin.html", next=target, email=email, error=error)
