"""The REST API's audience routes: searching users (filters, sort, keyset pages), their CSV
export, users of a company, and tags (Intercom 1.x shapes).

They belong to the `api` blueprint (same authentication); web/app.py imports this module
before registering it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, request, stream_with_context, url_for
from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, select

from commands.audience_schemas import EventSchema, TagSchema, UserSearchArgs
from commands.errors import CompanyNotFound, TagNotFound, UserNotFound
from commands.handling import handle
from commands.tags import DeleteTag, TagUsers, delete_tag, save_tag, tag_users
from commands.tracking import track_event
from domain.errors import InvalidValue
from domain.filters import Filter, Group, parse_condition
from projections.tables import user_companies, users
from queries.audience.choice import ListUsers, list_users
from queries.audience.sql import matching_ids
from queries.companies import find_company
from queries.segments import definitions
from queries.tags import app_tags, tag_holders, tags_held
from queries.tracked_events import user_event_page, user_event_summary
from queries.users import Cursor, Listing, find_user
from web.api import api, before_url, named_user, read_your_writes, services
from web.openapi import Answer, answers, asked, given
from web.schemas import (
    CursorPagesSchema,
    TagListSchema,
    TagOutSchema,
    UserListSchema,
    UserSchema,
)


class UserListArgs(UserSearchArgs):
    """`GET /users`: the search, or one user by `email` or `user_id`."""

    email = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "answer this one user (a `user`), not a list"},
    )
    user_id = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "answer this one user (a `user`), not a list"},
    )


SEARCH, USER_LIST_ARGS = UserSearchArgs(), UserListArgs()
TAG_IN, EVENT_IN = TagSchema(), EventSchema()

EXPORT_PAGE = 1000
CSV_COLUMNS = [
    "id",
    "user_id",
    "email",
    "name",
    "signed_up_at",
    "created_at",
    "last_seen_at",
    "session_count",
    "city",
    "country",
    "timezone",
    "browser",
    "unsubscribed_from_emails",
    "tags",
    "companies",
    "custom_attributes",
]


def _audience(args: dict[str, Any]) -> Filter:
    """The filter, tag and segment the request names, all of them at once."""
    conditions = [args["filter"]] if "filter" in args else []
    for name in ("tag", "segment"):
        if f"{name}_id" in args:
            condition = {"attribute": name, "operator": "is", "value": args[f"{name}_id"]}
            conditions.append(parse_condition(condition, ""))
    return conditions[0] if len(conditions) == 1 else Group("all", tuple(conditions))


def _asked(args: dict[str, Any], **more: Any) -> ListUsers:
    return ListUsers(g.app_id, _audience(args), args["sort"], args["order"], **more)


def _search(args: dict[str, Any], among: ColumnElement[bool] | None = None) -> Listing:
    after = Cursor.decode(args["after"]) if "after" in args else None
    s = services()
    asked = _asked(args, per_page=args["per_page"], after=after, among=among)
    with s.engine.connect() as conn:
        return list_users(conn, asked, s.clock.now(), definitions(conn, g.app_id), s.indexes)


def _listing(found: Listing, endpoint: str, **values: Any) -> dict[str, Any]:
    next_url = None
    if found.next is not None:
        query = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for(endpoint, **values, **query, after=found.next.encode(), _external=True)
    return {
        "users": found.items,
        "total_count": found.total,
        "pages": {
            "page": found.page,
            "per_page": found.per_page,
            "total_pages": max(1, -(-found.total // found.per_page)),
            "next": next_url,
        },
    }


@api.get("/users")
@answers((UserListSchema, UserSchema), query=USER_LIST_ARGS)
def get_users() -> Any:
    """The app's users, filtered and sorted, a page at a time; or one, by `email` or `user_id`

    `filter` is a filter as JSON text (`{"attribute": ..., "operator": ..., "value": ...}`,
    or `{"all": [...]}` / `{"any": [...]}`); `tag_id` and `segment_id` narrow it further.
    Pages follow `pages.next` (a cursor in `after`). With `email` or `user_id`, the answer is
    that user (a `user`), not a list."""
    args = asked()
    email, user_id = args.get("email"), args.get("user_id")
    if email is not None or user_id is not None:
        with services().engine.connect() as conn:
            row = find_user(
                conn, g.app_id, now=services().clock.now(), email=email, user_id=user_id
            )
        if row is None:
            raise UserNotFound(f"email {email!r}" if email else f"user_id {user_id!r}")
        return Answer(row, schema=UserSchema)
    return _listing(_search(args), "api.get_users")


@api.get("/companies/<public_id>/users")
@answers(UserListSchema, query=SEARCH)
def company_users(public_id: str) -> Any:
    """A company's users, a page at a time

    Takes the arguments of `GET /users` (`filter`, `tag_id`, `segment_id`, `sort`, `order`,
    `per_page`), among the company's users only; follow `pages.next`."""
    with services().engine.connect() as conn:
        if find_company(conn, g.app_id, id=public_id) is None:
            raise CompanyNotFound(f"id {public_id!r}")
    members = select(user_companies.c.user_id).where(user_companies.c.company_id == public_id)
    found = _search(asked(), users.c.id.in_(members))
    return _listing(found, "api.company_users", public_id=public_id)


# -- CSV export ---------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is kept as text (leading apostrophe)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _iso(seconds: int | None) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds is not None else ""


def _csv_row(row: dict[str, Any]) -> list[Any]:
    dates = {"signed_up_at", "created_at", "last_seen_at"}
    values = {
        **{k: _iso(row[k]) if k in dates else row.get(k) for k in CSV_COLUMNS},
        "tags": ";".join(t["name"] for t in row["tags"]),
        "companies": ";".join(c["company_id"] for c in row["companies"]),
        "custom_attributes": json.dumps(row["custom_attributes"], ensure_ascii=False),
    }
    return [_cell(values[k]) for k in CSV_COLUMNS]


@api.get("/users/export")
@answers(media="text/csv", query=SEARCH)
def export_users() -> Response:
    """Every user of a filtered list, as CSV

    The list of `GET /users` (same `filter`, `tag_id`, `segment_id`, `sort` and `order`),
    every page of it, streamed as a `users.csv` download: one line a user, with the columns
    id, user_id, email, name, signed_up_at, created_at, last_seen_at (ISO 8601),
    session_count, city, country, timezone, browser, unsubscribed_from_emails, tags and
    companies (`;`-separated) and custom_attributes (JSON)."""
    args = asked()
    return csv_export(_asked(args, per_page=EXPORT_PAGE, count=False))


def csv_export(every: ListUsers, filename: str = "users.csv") -> Response:
    """The users a listing names, every page of it, as a CSV download (the REST API's
    export and the dashboard's)."""
    s = services()

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        after: Cursor | None = None
        while True:
            # count=False: the file does not say how many; counting each page would be waste
            asked = replace(every, after=after, per_page=EXPORT_PAGE, count=False)
            with s.engine.connect() as conn:
                lookup = definitions(conn, every.app_id)
                found = list_users(conn, asked, s.clock.now(), lookup, None)
            for row in found.items:
                writer.writerow(_csv_row(row))
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if found.next is None:
                return
            after = found.next

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- tags ---------------------------------------------------------------------------------


def _tag(tag_id: str, name: str) -> dict[str, str]:
    return {"id": tag_id, "name": name}


@api.post("/tags")
@answers(TagOutSchema, body=TAG_IN)
def post_tag() -> Any:
    """Create a tag, or tag and untag users and companies

    Named by `name` (or `id`, to rename it). The `users` (by `id`, `user_id` or `email`) and
    `companies` (by `id` or `company_id`) listed get the tag, or lose it with `untag: true`;
    with `filter`, every user the filter matches gets it."""
    cmd, audience = given()
    s = services()
    saved = handle(save_tag, replace(cmd, app_id=g.app_id, by="api"), s.store, s.clock)
    position = saved.position
    if audience is not None:
        with s.engine.connect() as conn:
            lookup = definitions(conn, g.app_id)
            ids = matching_ids(conn, g.app_id, audience, s.clock.now(), lookup)
        every = TagUsers(g.app_id, saved.id, ids, by="api")
        position = max(position, tag_users(every, s.store, s.clock))
    read_your_writes(position)
    return _tag(saved.id, saved.name)


class TagArgs(Schema):
    """`GET /tags`: every tag; `name=` one tag; `taggable_type=user|company` with the user
    (`taggable_id`, `user_id` or `email`) or company (`taggable_id` or `company_id`): its tags."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    taggable_type = fields.String(validate=validate.OneOf(["user", "company"]))
    taggable_id = fields.String(validate=validate.Length(min=1, max=64))
    user_id = fields.String(validate=validate.Length(min=1, max=255))
    email = fields.String(validate=validate.Length(min=1, max=255))
    company_id = fields.String(validate=validate.Length(min=1, max=255))


TAG_ARGS = TagArgs()


@api.get("/tags")
@answers((TagListSchema, TagOutSchema), query=TAG_ARGS)
def get_tags() -> Any:
    """The app's tags; one, by `name`; or a user's or a company's

    With `name` (any case), the answer is that tag (a `tag`), not a list. With
    `taggable_type=user` and the user's `taggable_id` (Parley's id), `user_id` or `email`, or
    `taggable_type=company` and its `taggable_id` or `company_id`: the tags they hold."""
    args = asked()
    s = services()
    with s.engine.connect() as conn:
        if "name" in args:
            wanted = args["name"].strip().casefold()
            found = [r for r in app_tags(conn, g.app_id) if r["name"].casefold() == wanted]
            if not found:
                raise TagNotFound(f"tag named {args['name']!r}")
            return Answer(_tag(found[0]["id"], found[0]["name"]), schema=TagOutSchema)
        kind = args.get("taggable_type")
        if kind == "user":
            ref = {"id": args.get("taggable_id"), **args}
            rows = tags_held(conn, g.app_id, user=named_user(ref).id.hex)
        elif kind == "company":
            company = find_company(
                conn, g.app_id, id=args.get("taggable_id"), company_id=args.get("company_id")
            )
            if company is None:
                raise CompanyNotFound("the taggable_id or company_id given")
            rows = tags_held(conn, g.app_id, company=company["id"])
        else:
            rows = app_tags(conn, g.app_id)
    return [_tag(r["id"], r["name"]) for r in rows]


@api.get("/tags/<tag_id>")
@answers(TagOutSchema)
def get_tag(tag_id: str) -> Any:
    """One tag, by id

    To find one by name, use `GET /tags?name=` (any case)."""
    with services().engine.connect() as conn:
        held = tag_holders(conn, g.app_id, tag_id)
    if held is None:
        raise TagNotFound(f"tag {tag_id!r}")
    return _tag(tag_id, held.name)


@api.put("/tags/<tag_id>")
@answers(TagOutSchema, body=TAG_IN)
def put_tag(tag_id: str) -> Any:
    """Rename a tag

    `{name}` renames it; users and companies in the body are tagged or untagged as by
    `POST /tags` (a `filter` is refused here: tag a filtered list with `POST /tags`)."""
    cmd, audience = given()
    if audience is not None:
        raise InvalidValue("filter", "tag a filtered list with POST /tags")
    s = services()
    saved = handle(save_tag, replace(cmd, app_id=g.app_id, id=tag_id, by="api"), s.store, s.clock)
    read_your_writes(saved.position)
    return _tag(saved.id, saved.name)


@api.delete("/tags/<tag_id>")
@answers(TagOutSchema)
def remove_tag(tag_id: str) -> Any:
    """Delete a tag

    Its users and companies lose it. Answers the tag as it was."""
    s = services()
    with s.engine.connect() as conn:
        held = tag_holders(conn, g.app_id, tag_id)
    if held is None:
        raise TagNotFound(f"tag {tag_id!r}")
    cmd = DeleteTag(g.app_id, tag_id, held.user_ids, held.company_ids)
    position = delete_tag(cmd, s.store, s.clock)
    read_your_writes(position)
    return _tag(tag_id, held.name)


# -- tracked events -----------------------------------------------------------------------


@api.post("/events")
@answers(None, status=202, body=EVENT_IN)
def post_event() -> Any:
    """Record something a user did

    The user is named by `user_id`, `email` or Parley's `id`; `created_at` is when it
    happened. `metadata`: up to 10 values (text, numbers, booleans), a link
    `{url, value}` or a price `{amount, currency}` (amount in cents). Answers 202 with no
    body, as Intercom 1.x did."""
    cmd = replace(given(), app_id=g.app_id)
    s = services()
    read_your_writes(handle(track_event, cmd, s.store, s.clock))
    return None


class EventListArgs(Schema):
    """`GET /events?type=user&user_id=|email=|intercom_user_id=` (Intercom's names), a page
    at a time (`per_page`, then `before` from `pages.next`); `summary=true`: per event name."""

    type = fields.String(required=True, validate=validate.Equal("user"))
    user_id = fields.String(validate=validate.Length(min=1, max=255))
    email = fields.String(validate=validate.Length(min=1, max=255))
    intercom_user_id = fields.String(validate=validate.Length(min=1, max=64))
    summary = fields.Boolean(load_default=False)
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    before = fields.String(validate=validate.Length(max=100))


EVENT_LIST = EventListArgs()


class TrackedEventSchema(Schema):
    """An event a user did, with who did it."""

    type = fields.Constant("event")
    id = fields.String()
    event_name = fields.String(attribute="name")
    created_at = fields.Integer()
    user_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    intercom_user_id = fields.String(metadata={"description": "Parley's id of the user"})
    metadata = fields.Dict(
        metadata={"description": "text, numbers, booleans, links {url, value}, prices"}
    )


class EventListSchema(Schema):
    type = fields.Constant("event.list")
    events = fields.List(fields.Nested(TrackedEventSchema))
    pages = fields.Nested(CursorPagesSchema)


class EventCountSchema(Schema):
    """How many times the user did one event, first and last (Unix times)."""

    name = fields.String()
    count = fields.Integer()
    first = fields.Integer()
    last = fields.Integer()


class EventSummarySchema(Schema):
    type = fields.Constant("event.summary")
    user_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    intercom_user_id = fields.String()
    events = fields.List(fields.Nested(EventCountSchema))


@api.get("/events")
@answers((EventListSchema, EventSummarySchema), query=EVENT_LIST)
def get_events() -> Any:
    """A user's events, newest first, a page at a time; or their summary per event name

    The user is named by `user_id`, `email` or `intercom_user_id` (Parley's id), with
    `type=user`. Older events follow `pages.next`. With `summary=true`, the answer is an
    `event.summary`: per event name, how many times, first and last."""
    args = asked()
    user = named_user(
        {
            "id": args.get("intercom_user_id"),
            "user_id": args.get("user_id"),
            "email": args.get("email"),
        }
    )
    who = {"user_id": user.user_id, "email": user.email, "intercom_user_id": user.id.hex}
    with services().engine.connect() as conn:
        if args["summary"]:
            summary = user_event_summary(conn, user.id.hex)
            return Answer({**who, "events": summary}, schema=EventSummarySchema)
        page = user_event_page(conn, user.id.hex, args["per_page"], args.get("before"))
    following = before_url("api.get_events", page.next)
    return {
        "events": [{**row, **who} for row in page.events],
        "pages": {"per_page": args["per_page"], "next": following},
    }
