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

from flask import Response, g, jsonify, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
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
from web.api import api, before_url, body, named_user, read_your_writes, services
from web.schemas import UserSchema

SEARCH, TAG_IN, EVENT_IN, USER_OUT = UserSearchArgs(), TagSchema(), EventSchema(), UserSchema()

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


def _search(among: ColumnElement[bool] | None = None) -> Listing:
    args = SEARCH.load(request.args)
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
        "type": "user.list",
        "users": USER_OUT.dump(found.items, many=True),
        "total_count": found.total,
        "pages": {
            "type": "pages",
            "page": found.page,
            "per_page": found.per_page,
            "total_pages": max(1, -(-found.total // found.per_page)),
            "next": next_url,
        },
    }


@api.get("/users")
def get_users() -> ResponseReturnValue:
    """One user by email or user_id; otherwise the filtered, sorted list."""
    email, user_id = request.args.get("email"), request.args.get("user_id")
    if email is not None or user_id is not None:
        with services().engine.connect() as conn:
            row = find_user(
                conn, g.app_id, now=services().clock.now(), email=email, user_id=user_id
            )
        if row is None:
            raise UserNotFound(f"email {email!r}" if email else f"user_id {user_id!r}")
        return jsonify(USER_OUT.dump(row))
    return jsonify(_listing(_search(), "api.get_users"))


@api.get("/companies/<public_id>/users")
def company_users(public_id: str) -> ResponseReturnValue:
    with services().engine.connect() as conn:
        if find_company(conn, g.app_id, id=public_id) is None:
            raise CompanyNotFound(f"id {public_id!r}")
    members = select(user_companies.c.user_id).where(user_companies.c.company_id == public_id)
    found = _search(users.c.id.in_(members))
    return jsonify(_listing(found, "api.company_users", public_id=public_id))


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
def export_users() -> ResponseReturnValue:
    """Every user of a filtered list as CSV, streamed page by page (any size of list)."""
    args = SEARCH.load(request.args)
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
    return {"type": "tag", "id": tag_id, "name": name}


@api.post("/tags")
def post_tag() -> ResponseReturnValue:
    cmd, audience = TAG_IN.load(body())
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
    return jsonify(_tag(saved.id, saved.name))


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
def get_tags() -> ResponseReturnValue:
    args = TAG_ARGS.load(request.args)
    s = services()
    with s.engine.connect() as conn:
        if "name" in args:
            wanted = args["name"].strip().casefold()
            found = [r for r in app_tags(conn, g.app_id) if r["name"].casefold() == wanted]
            if not found:
                raise TagNotFound(f"tag named {args['name']!r}")
            return jsonify(_tag(found[0]["id"], found[0]["name"]))
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
    return jsonify({"type": "tag.list", "tags": [_tag(r["id"], r["name"]) for r in rows]})


@api.get("/tags/<tag_id>")
def get_tag(tag_id: str) -> ResponseReturnValue:
    with services().engine.connect() as conn:
        held = tag_holders(conn, g.app_id, tag_id)
    if held is None:
        raise TagNotFound(f"tag {tag_id!r}")
    return jsonify(_tag(tag_id, held.name))


@api.put("/tags/<tag_id>")
def put_tag(tag_id: str) -> ResponseReturnValue:
    """Rename the tag (`{name}`); users and companies in the body are tagged as by POST."""
    cmd, audience = TAG_IN.load(body())
    if audience is not None:
        raise InvalidValue("filter", "tag a filtered list with POST /tags")
    s = services()
    saved = handle(save_tag, replace(cmd, app_id=g.app_id, id=tag_id, by="api"), s.store, s.clock)
    read_your_writes(saved.position)
    return jsonify(_tag(saved.id, saved.name))


@api.delete("/tags/<tag_id>")
def remove_tag(tag_id: str) -> ResponseReturnValue:
    s = services()
    with s.engine.connect() as conn:
        held = tag_holders(conn, g.app_id, tag_id)
    if held is None:
        raise TagNotFound(f"tag {tag_id!r}")
    cmd = DeleteTag(g.app_id, tag_id, held.user_ids, held.company_ids)
    position = delete_tag(cmd, s.store, s.clock)
    read_your_writes(position)
    return jsonify(_tag(tag_id, held.name))


# -- tracked events -----------------------------------------------------------------------


@api.post("/events")
def post_event() -> ResponseReturnValue:
    """Record something a user did (Intercom 1.x answers 202 with no body)."""
    cmd = replace(EVENT_IN.load(body()), app_id=g.app_id)
    s = services()
    read_your_writes(handle(track_event, cmd, s.store, s.clock))
    return "", 202


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


@api.get("/events")
def get_events() -> ResponseReturnValue:
    args = EVENT_LIST.load(request.args)
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
            return jsonify({"type": "event.summary", **who, "events": summary})
        page = user_event_page(conn, user.id.hex, args["per_page"], args.get("before"))
    following = before_url("api.get_events", page.next)
    listed = [
        {
            "type": "event",
            "id": row["id"],
            "event_name": row["name"],
            "created_at": row["created_at"],
            **who,
            "metadata": row["metadata"],
        }
        for row in page.events
    ]
    return jsonify(
        {
            "type": "event.list",
            "events": listed,
            "pages": {"type": "pages", "per_page": args["per_page"], "next": following},
        }
    )
