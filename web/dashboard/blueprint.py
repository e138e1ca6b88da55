"""The dashboard's blueprint: every response carries a Content-Security-Policy without inline
scripts, refuses framing, keeps the referrer to this site and is never cached; every form post
(and htmx request) must carry its CSRF token."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect
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


def signin_page(error: str | None = None, email: str = "", target: str | None = None) -> str:
    """The sign-in form, with what went wrong, the address typed and where to go after."""
    return render_template("dashboard/signin.html", next=target, email=email, error=error)
