"""The REST API in the shape of Intercom's 1.x: HTTP Basic auth with app_id and API key."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields, validate

from commands.apps import authorised_app
from commands.companies import DeleteCompany, SaveCompany, delete_company, save_company
from commands.errors import AppNotFound, CompanyNotFound, UserNotFound
from commands.handling import handle
from commands.schemas import ApiCompanySchema, ApiUserSchema, refuse_nul
from commands.users import DeleteUser, delete_user, find_named_user, save_user
from domain.user import User
from queries.companies import (
    company_member_ids,
    find_company,
    list_companies,
    total_monthly_spend,
)
from queries.users import Page, find_user
from web.context import services
from web.errors import RateLimited, Unauthorized
from web.json_body import json_object
from web.schemas import CompanySchema, UserSchema


class ApiBlueprint(Blueprint):
    """The REST API's routes answer with or without a trailing slash (`POST /users/`, as the
    Intercom 1.x clients send them), instead of a 404 or a redirect that drops the body."""

    def add_url_rule(self, rule: str, *args: Any, **options: Any) -> None:
        options.setdefault("strict_slashes", False)
        super().add_url_rule(rule, *args, **options)


api = ApiBlueprint("api", __name__)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


# Schemas are stateless once built: one of each serves every request.
PAGE_ARGS = PageArgs()
USER_IN, COMPANY_IN = ApiUserSchema(), ApiCompanySchema()
USER_OUT, COMPANY_OUT = UserSchema(), CompanySchema()


@api.before_request
def authenticate() -> None:
    auth = request.authorization
    if auth is None or not auth.username or not auth.password:
        raise Unauthorized()
    try:
        app = authorised_app(services().store, auth.username, auth.password)
    except AppNotFound:
        raise Unauthorized() from None
    if app is None:
        raise Unauthorized()
    g.app_id = app.app_id
    standing = current_app.extensions["parley_rate_limits"].api_call(app.app_id)
    g.rate_limit = standing
    if not standing.allowed:
        raise RateLimited(
            f"this app made more than {standing.limit} API calls this minute",
            standing.headers,
            standing.reset - int(time.time()),
        )


@api.after_request
def rate_limit_headers(response: Response) -> Response:
    """Every authenticated answer says where the app stands (Intercom 1.x's headers)."""
    standing = g.get("rate_limit")
    if standing is not None:
        response.headers.update(standing.headers)
    return response


REST_MAX_BYTES = 1024 * 1024  # a REST call's JSON body; more is refused unread


def body(limit: int = REST_MAX_BYTES) -> dict[str, Any]:
    """The request's JSON object, refused (400 naming `body`) before parsing when it is over
    `limit` bytes, and when it is not JSON, nests too deep or holds NUL characters."""
    data = json_object(limit)
    refuse_nul(data)
    return data


def named_user(ref: Mapping[str, Any]) -> User:
    """The app's user a request names by Parley `id`, `user_id` or `email` (the first given)."""
    return find_named_user(
        services().store,
        g.app_id,
        id=ref.get("id"),
        user_id=ref.get("user_id"),
        email=ref.get("email"),
    )


def read_your_writes(position: int) -> None:
    """Answer a write only once the projections show it (bounded wait)."""
    if position:
        services().runner.wait_for(position)


def before_url(endpoint: str, cursor: str | None) -> str | None:
    """The next page of this request's listing: its own arguments with `before=` the cursor
    (None: no next page), whole, as the 1.x clients follow `pages.next`."""
    if cursor is None:
        return None
    kept = {k: v for k, v in request.args.items() if k != "before"}
    return url_for(endpoint, **kept, before=cursor, _external=True)


def page_of(kind: str, plural: str, page: Page, schema: Schema, endpoint: str) -> dict[str, Any]:
    next_url = (
        url_for(endpoint, page=page.page + 1, per_page=page.per_page, _external=True)
        if page.has_next
        else None
    )
    return {
        "type": f"{kind}.list",
        plural: schema.dump(page.items, many=True),
        "total_count": page.total,
        "pages": {
            "type": "pages",
            "page": page.page,
            "per_page": page.per_page,
            "total_pages": page.total_pages,
            "next": next_url,
        },
    }


# -- users ----------------------------------------------------------------------------


@api.post("/users")
def post_user() -> ResponseReturnValue:
    cmd = USER_IN.load(body())
    cmd = replace(cmd, app_id=g.app_id)
    s = services()
    saved = handle(save_user, cmd, s.store, s.clock, s.locate)
    read_your_writes(saved.position)
    with s.engine.connect() as conn:
        row = find_user(conn, g.app_id, now=services().clock.now(), id=saved.user.id.hex)
    if row is None:
        raise UserNotFound(f"id {saved.user.id.hex}")
    return jsonify(USER_OUT.dump(row))


@api.get("/users/<public_id>")
def get_user(public_id: str) -> ResponseReturnValue:
    with services().engine.connect() as conn:
        row = find_user(conn, g.app_id, now=services().clock.now(), id=public_id)
    if row is None:
        raise UserNotFound(f"id {public_id!r}")
    return jsonify(USER_OUT.dump(row))


@api.delete("/users")
def remove_named_user() -> ResponseReturnValue:
    """`DELETE /users?user_id=` or `?email=` (or `?id=`), as Intercom 1.x documented."""
    ref = {k: request.args[k] for k in ("id", "user_id", "email") if request.args.get(k)}
    return remove_user(named_user(ref).id.hex)


@api.delete("/users/<public_id>")
def remove_user(public_id: str) -> ResponseReturnValue:
    s = services()
    with s.engine.connect() as conn:
        row = find_user(conn, g.app_id, now=services().clock.now(), id=public_id)
    if row is None:
        raise UserNotFound(f"id {public_id!r}")
    saved = handle(delete_user, DeleteUser(g.app_id, public_id), s.store, s.clock)
    read_your_writes(saved.position)
    return jsonify(USER_OUT.dump(row))


# -- companies ------------------------------------------------------------------------


@api.post("/companies")
def post_company() -> ResponseReturnValue:
    s = services()
    given = COMPANY_IN.load(body())
    saved = handle(save_company, SaveCompany(g.app_id, given), s.store, s.clock)
    read_your_writes(saved.position)
    with s.engine.connect() as conn:
        row = find_company(conn, g.app_id, id=saved.company.id.hex)
    if row is None:
        raise CompanyNotFound(f"company_id {given.company_id!r}")
    return jsonify(COMPANY_OUT.dump(row))


@api.get("/companies")
def get_companies() -> ResponseReturnValue:
    company_id, name = request.args.get("company_id"), request.args.get("name")
    with services().engine.connect() as conn:
        if company_id is not None or name is not None:
            row = find_company(conn, g.app_id, company_id=company_id, name=name)
            if row is None:
                what = f"company_id {company_id!r}" if company_id else f"name {name!r}"
                raise CompanyNotFound(what)
            return jsonify(COMPANY_OUT.dump(row))
        args = PAGE_ARGS.load(request.args)
        found = list_companies(conn, g.app_id, **args)
        spend = total_monthly_spend(conn, g.app_id)
    listing = page_of("company", "companies", found, COMPANY_OUT, "api.get_companies")
    # Revenue across all the app's companies (seed: "track revenue across your companies").
    listing["total_monthly_spend"] = spend
    return jsonify(listing)


@api.delete("/companies/<public_id>")
def remove_company(public_id: str) -> ResponseReturnValue:
    """The company goes from every list and count; its users leave it. Answers the company as
    it was. Named again later (`POST /companies`, a user's `companies`), it starts afresh."""
    s = services()
    with s.engine.connect() as conn:
        row = find_company(conn, g.app_id, id=public_id)
        members = company_member_ids(conn, public_id) if row is not None else []
    if row is None:
        raise CompanyNotFound(f"id {public_id!r}")
    position = delete_company(DeleteCompany(g.app_id, public_id, members), s.store, s.clock)
    read_your_writes(position)
    return jsonify(COMPANY_OUT.dump(row))


@api.get("/companies/<public_id>")
def get_company(public_id: str) -> ResponseReturnValue:
    with services().engine.connect() as conn:
        row = find_company(conn, g.app_id, id=public_id)
    if row is None:
        raise CompanyNotFound(f"id {public_id!r}")
    return jsonify(COMPANY_OUT.dump(row))
