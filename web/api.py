"""The REST API in the shape of Intercom's 1.x: HTTP Basic auth with app_id and API key."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app, g, request, url_for
from marshmallow import Schema, fields, validate

from commands.apps import authorised_app
from commands.companies import DeleteCompany, SaveCompany, delete_company, save_company
from commands.errors import AppNotFound, CompanyNotFound, UserNotFound
from commands.handling import handle
from commands.schemas import ApiCompanySchema, ApiUserSchema
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
from web.openapi import Answer, answers, asked, given
from web.schemas import CompanyListSchema, CompanySchema, UserSchema


class ApiBlueprint(Blueprint):
    """The REST API's routes answer with or without a trailing slash (`POST /users/`, as the
    Intercom 1.x clients send them), instead of a 404 or a redirect that drops the body."""

    def add_url_rule(self, rule: str, *args: Any, **options: Any) -> None:
        options.setdefault("strict_slashes", False)
        super().add_url_rule(rule, *args, **options)


api = ApiBlueprint("api", __name__)


class PageArgs(Schema):
    """A numbered page. Bounded: past a million, the offset would not fit a database integer
    (a 500, not a 400)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


# Schemas are stateless once built: one of each serves every request.
PAGE_ARGS = PageArgs()
USER_IN, COMPANY_IN = ApiUserSchema(), ApiCompanySchema()


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


def page_of(kind: str, plural: str, page: Page, endpoint: str) -> dict[str, Any]:
    """A numbered page of a listing (`page`, `per_page`), its items left for the schema."""
    next_url = (
        url_for(endpoint, page=page.page + 1, per_page=page.per_page, _external=True)
        if page.has_next
        else None
    )
    return {
        "type": f"{kind}.list",
        plural: page.items,
        "total_count": page.total,
        "pages": {
            "page": page.page,
            "per_page": page.per_page,
            "total_pages": page.total_pages,
            "next": next_url,
        },
    }


def user_row(public_id: str) -> dict[str, Any]:
    with services().engine.connect() as conn:
        row = find_user(conn, g.app_id, now=services().clock.now(), id=public_id)
    if row is None:
        raise UserNotFound(f"id {public_id!r}")
    return row


def company_row(public_id: str) -> dict[str, Any]:
    with services().engine.connect() as conn:
        row = find_company(conn, g.app_id, id=public_id)
    if row is None:
        raise CompanyNotFound(f"id {public_id!r}")
    return row


# -- users ----------------------------------------------------------------------------


@api.post("/users")
@answers(UserSchema, body=USER_IN)
def post_user() -> Any:
    """Create or update a user

    Named by `user_id`, `email` or Parley's `id`: an existing user is updated, otherwise one is
    created. `companies` adds the user to companies (`remove: true` takes them out)."""
    cmd = replace(given(), app_id=g.app_id)
    s = services()
    saved = handle(save_user, cmd, s.store, s.clock, s.locate)
    read_your_writes(saved.position)
    return user_row(saved.user.id.hex)


@api.get("/users/<public_id>")
@answers(UserSchema)
def get_user(public_id: str) -> Any:
    """One user, by Parley's id

    With their tags, segments (as of now), companies and relationship score. To find one by
    your `user_id` or their email, use `GET /users?user_id=` or `?email=`."""
    return user_row(public_id)


class UserRefArgs(Schema):
    id = fields.String(validate=validate.Length(min=1, max=64))
    user_id = fields.String(validate=validate.Length(min=1, max=255))
    email = fields.String(validate=validate.Length(min=1, max=255))


@api.delete("/users")
@answers(UserSchema, query=UserRefArgs())
def remove_named_user() -> Any:
    """Delete a user named by `user_id`, `email` or `id`

    Answers the user as they were."""
    return deleted_user(named_user(asked()).id.hex)


@api.delete("/users/<public_id>")
@answers(UserSchema)
def remove_user(public_id: str) -> Any:
    """Delete a user

    Answers the user as they were."""
    return deleted_user(public_id)


def deleted_user(public_id: str) -> dict[str, Any]:
    s = services()
    row = user_row(public_id)
    saved = handle(delete_user, DeleteUser(g.app_id, public_id), s.store, s.clock)
    read_your_writes(saved.position)
    return row


# -- companies ------------------------------------------------------------------------


@api.post("/companies")
@answers(CompanySchema, body=COMPANY_IN)
def post_company() -> Any:
    """Create or update a company

    Named by the customer's `company_id` or Parley's `id` (an existing one)."""
    s = services()
    loaded = given()
    saved = handle(save_company, SaveCompany(g.app_id, loaded), s.store, s.clock)
    read_your_writes(saved.position)
    return company_row(saved.company.id.hex)


class CompanyArgs(PageArgs):
    company_id = fields.String(validate=validate.Length(min=1, max=255))
    name = fields.String(validate=validate.Length(min=1, max=255))


@api.get("/companies")
@answers((CompanyListSchema, CompanySchema), query=CompanyArgs())
def get_companies() -> Any:
    """The app's companies, a page at a time; or one, by `company_id` or `name`

    With `company_id` or `name`, the answer is that company (a `company`), not a list."""
    args = asked()
    company_id, name = args.get("company_id"), args.get("name")
    with services().engine.connect() as conn:
        if company_id is not None or name is not None:
            row = find_company(conn, g.app_id, company_id=company_id, name=name)
            if row is None:
                what = f"company_id {company_id!r}" if company_id else f"name {name!r}"
                raise CompanyNotFound(what)
            return Answer(row, schema=CompanySchema)
        found = list_companies(conn, g.app_id, page=args["page"], per_page=args["per_page"])
        spend = total_monthly_spend(conn, g.app_id)
    listing = page_of("company", "companies", found, "api.get_companies")
    # Revenue across all the app's companies (seed: "track revenue across your companies").
    listing["total_monthly_spend"] = spend
    return listing


@api.delete("/companies/<public_id>")
@answers(CompanySchema)
def remove_company(public_id: str) -> Any:
    """Delete a company

    The company goes from every list and count; its users leave it. Answers the company as
    it was. Named again later (`POST /companies`, a user's `companies`), it starts afresh."""
    s = services()
    row = company_row(public_id)
    with s.engine.connect() as conn:
        members = company_member_ids(conn, public_id)
    position = delete_company(DeleteCompany(g.app_id, public_id, members), s.store, s.clock)
    read_your_writes(position)
    return row


@api.get("/companies/<public_id>")
@answers(CompanySchema)
def get_company(public_id: str) -> Any:
    """One company, by Parley's id

    With its user count, plan, monthly spend, custom attributes and tags. To find one by
    your `company_id`, use `GET /companies?company_id=`."""
    return company_row(public_id)
