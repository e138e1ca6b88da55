"""The dashboard's blueprint: every response carries a Content-Security-Policy without inline
scripts, refuses framing, keeps the referrer to this site and is never cached; every form post
(and htmx request) must carry its CSRF token."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask_wtf.csrf import CSRFProtect

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


@dashboard.after_request
def secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
