"""Every refusal becomes an Intercom-style error list, in this one place."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from commands.errors import (
    AdminExists,
    AppNotFound,
    CompanyNotFound,
    ConversationNotFound,
    InvalidUserHash,
    MessageNotFound,
    SegmentNotFound,
    TagNotFound,
    UserNotFound,
)
from commands.webhooks import SubscriptionNotFound
from domain.errors import InvalidValue, MissingUserIdentifier


class Unauthorized(Exception):
    """Missing or wrong HTTP Basic credentials."""


class NotFound(Exception):
    """The requested resource does not exist in this app."""


class RateLimited(Exception):
    """Past a rate limit: the call is refused whole; `headers` say when to come back."""

    def __init__(self, message: str, headers: dict[str, str], retry_after: int) -> None:
        super().__init__(message)
        self.headers = {**headers, "Retry-After": str(max(1, retry_after))}


def error_list(status: int, errors: list[dict[str, Any]]) -> ResponseReturnValue:
    response = jsonify({"type": "error.list", "errors": errors})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Parley"'
    return response


def flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Marshmallow's nested messages as (dotted.field, reason) pairs."""
    if isinstance(messages, dict):
        found: list[tuple[str, str]] = []
        for key, value in messages.items():
            field = f"{prefix}.{key}" if prefix else str(key)
            found.extend(flatten(value, field))
        return found
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, m) for m in messages]
    if isinstance(messages, list):
        return [pair for m in messages for pair in flatten(m, prefix)]
    return [(prefix, str(messages))]


def explained(messages: Any) -> str:
    """Marshmallow's messages in one line a person reads: "field: reason; other: reason"."""
    return "; ".join(f"{field}: {reason}" for field, reason in flatten(messages))


def _invalid(field: str, reason: str) -> dict[str, str]:
    return {"code": "parameter_invalid", "field": field, "message": f"{field}: {reason}"}


def for_people() -> bool:
    """Whether the request is a teammate's browser on the dashboard (an HTML answer) rather
    than a REST or widget client (the JSON error format)."""
    path = request.path
    return (
        request.blueprint == "dashboard"
        or path in ("/", "/signin", "/signout")
        or path.startswith(("/apps/", "/invitation/"))
    )


def _page(status: int) -> ResponseReturnValue:
    if status == 404:
        return render_template("dashboard/missing.html"), 404
    if status == 405:
        title, why = "This page does not do that", "Follow the page's own links and buttons."
    elif status < 500:
        title, why = "This request cannot be answered", "Go back and try again."
    else:
        title, why = "Something went wrong", "Nothing was lost; try again in a moment."
    return render_template("dashboard/problem.html", title=title, explanation=why), status


def register(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def validation(error: ValidationError) -> ResponseReturnValue:
        return error_list(400, [_invalid(f, r) for f, r in flatten(error.messages)])

    @app.errorhandler(InvalidValue)
    def invalid_value(error: InvalidValue) -> ResponseReturnValue:
        return error_list(400, [_invalid(error.field, error.reason)])

    @app.errorhandler(MissingUserIdentifier)
    def missing_identifier(error: MissingUserIdentifier) -> ResponseReturnValue:
        # parameter_invalid, as every other refused field: the 1.x clients raise
        # BadRequestError for it (an unknown code would be their UnexpectedError).
        return error_list(400, [_invalid("user_id", str(error))])

    @app.errorhandler(InvalidUserHash)
    def bad_hash(error: InvalidUserHash) -> ResponseReturnValue:
        return error_list(401, [{"code": "invalid_user_hash", "message": str(error)}])

    @app.errorhandler(Unauthorized)
    def unauthorized(_error: Unauthorized) -> ResponseReturnValue:
        return error_list(
            401, [{"code": "unauthorized", "message": "app_id and API key are not valid"}]
        )

    @app.errorhandler(AppNotFound)
    def app_not_found(error: AppNotFound) -> ResponseReturnValue:
        return error_list(404, [{"code": "app_not_found", "message": str(error)}])

    @app.errorhandler(UserNotFound)
    @app.errorhandler(CompanyNotFound)
    @app.errorhandler(TagNotFound)
    @app.errorhandler(SegmentNotFound)
    @app.errorhandler(MessageNotFound)
    @app.errorhandler(ConversationNotFound)
    @app.errorhandler(NotFound)
    @app.errorhandler(SubscriptionNotFound)
    def not_found(error: Exception) -> ResponseReturnValue:
        if for_people():
            return _page(404)
        return error_list(404, [{"code": "not_found", "message": str(error) or "not found"}])

    @app.errorhandler(RateLimited)
    def rate_limited(error: RateLimited) -> ResponseReturnValue:
        response = error_list(429, [{"code": "rate_limit_exceeded", "message": str(error)}])
        response.headers.update(error.headers)  # type: ignore[union-attr]
        return response

    @app.errorhandler(AdminExists)
    def conflict(error: AdminExists) -> ResponseReturnValue:
        return error_list(409, [{"code": "conflict", "message": str(error)}])

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        if for_people():
            return _page(error.code or 500)
        code = (error.name or "error").lower().replace(" ", "_")
        return error_list(error.code or 500, [{"code": code, "message": error.description}])

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        app.logger.exception("unexpected error", exc_info=error)
        if for_people():
            return _page(500)
        return error_list(500, [{"code": "server_error", "message": "unexpected server error"}])
