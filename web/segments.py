"""The REST API's segments and counts (Intercom 1.x shapes). Routes join the `api`
blueprint (same authentication); web/app.py imports this module before registering it."""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from commands.apps import recent_app
from commands.audience_schemas import FilterField
from commands.errors import SegmentNotFound
from commands.handling import handle
from commands.segments import DeleteSegment, SaveSegment, delete_segment, save_segment
from queries.conversations import admin_counts, inbox_counts
from queries.counts import app_counts, company_counts, user_counts
from queries.segments import find_segment, list_segments, segment_size
from web.api import api, read_your_writes, services
from web.openapi import answers, asked, given
from web.schemas import ListOf

FILTER = "a filter: `{attribute, operator, value}`, or `{all: [...]}` / `{any: [...]}` of them"


class SegmentIn(Schema):
    """`PUT /segments/{id}`: a new name, a new filter, or both."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    filter = FilterField()


class NewSegment(SegmentIn):
    """`POST /segments`: a name and the filter whose users are in the segment."""

    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        error_messages={"required": "is required"},
    )
    filter = FilterField(required=True, error_messages={"required": "is required"})


class SegmentArgs(Schema):
    """`GET /segments/{id}`: `include_count=true` adds how many users are in it now."""

    class Meta:
        unknown = EXCLUDE

    include_count = fields.Boolean(load_default=False)


class CountArgs(Schema):
    type = fields.String(validate=validate.OneOf(["user", "company", "conversation"]))
    count = fields.String(validate=validate.OneOf(["tag", "segment", "user", "admin"]))


SEGMENT_IN, NEW_SEGMENT, COUNT_ARGS = SegmentIn(), NewSegment(), CountArgs()


class SegmentSchema(Schema):
    type = fields.Constant("segment")
    id = fields.String()
    name = fields.String()
    created_at = fields.Integer()
    updated_at = fields.Integer()
    person_type = fields.Constant("user")
    filter = fields.Dict(attribute="definition", metadata={"description": FILTER})
    count = fields.Integer(
        metadata={
            "description": "how many users are in it now (`include_count=true`)",
            "optional": True,
        }
    )


class SegmentListSchema(ListOf):
    plural = "segments"
    type = fields.Constant("segment.list")
    segments = fields.List(fields.Nested(SegmentSchema))


def _show(segment_id: str, with_count: bool = False) -> dict[str, Any]:
    s = services()
    with s.engine.connect() as conn:
        row = find_segment(conn, g.app_id, segment_id)
        if row is None:
            raise SegmentNotFound(f"segment {segment_id!r}")
        if with_count:
            row["count"] = segment_size(conn, g.app_id, segment_id, s.clock.now(), s.indexes)
    return row


@api.post("/segments")
@answers(SegmentSchema, body=NEW_SEGMENT)
def post_segment() -> Any:
    """Create a segment

    A saved filter: its users are whoever matches it at the time asked."""
    loaded = given()
    s = services()
    cmd = SaveSegment(g.app_id, loaded["name"], loaded["filter"])
    saved = handle(save_segment, cmd, s.store, s.clock)
    read_your_writes(saved.position)
    return _show(saved.id)


@api.get("/segments")
@answers(SegmentListSchema)
def get_segments() -> Any:
    """The app's segments, by name

    Each with its filter; membership is computed when asked
    (`GET /segments/{id}?include_count=true`)."""
    with services().engine.connect() as conn:
        return list_segments(conn, g.app_id)


@api.get("/segments/<segment_id>")
@answers(SegmentSchema, query=SegmentArgs())
def get_segment(segment_id: str) -> Any:
    """One segment, by id

    With `include_count=true`, its `count`: how many users are in it now."""
    return _show(segment_id, asked()["include_count"])


@api.put("/segments/<segment_id>")
@answers(SegmentSchema, body=SEGMENT_IN)
def put_segment(segment_id: str) -> Any:
    """Rename a segment, or change its filter

    Either or both; the segment's users are whoever its filter matches from then on."""
    loaded = given()
    s = services()
    cmd = SaveSegment(g.app_id, loaded.get("name"), loaded.get("filter"), id=segment_id)
    saved = handle(save_segment, cmd, s.store, s.clock)
    read_your_writes(saved.position)
    return _show(segment_id)


@api.delete("/segments/<segment_id>")
@answers(SegmentSchema)
def remove_segment(segment_id: str) -> Any:
    """Delete a segment

    Answers the segment as it was."""
    s = services()
    with s.engine.connect() as conn:
        row = find_segment(conn, g.app_id, segment_id)
    if row is None:
        raise SegmentNotFound(f"segment {segment_id!r}")
    position = handle(delete_segment, DeleteSegment(g.app_id, segment_id), s.store, s.clock)
    read_your_writes(position)
    return row


# -- counts -------------------------------------------------------------------------------

SOME = fields.List(
    fields.Dict(keys=fields.String(), values=fields.Integer()),
    metadata={"description": "one `{name: count}` object for each", "optional": True},
)


class TotalSchema(Schema):
    count = fields.Integer()


class UserCountsSchema(Schema):
    """The app's users (`count`), or users per `tag` or per `segment`."""

    count = fields.Integer(metadata={"optional": True})
    tag = SOME
    segment = SOME


class CompanyCountsSchema(Schema):
    """The app's companies (`count`); companies per `tag`, companies with a user in each
    `segment`, or users per company (`user`)."""

    count = fields.Integer(metadata={"optional": True})
    tag = SOME
    segment = SOME
    user = SOME


class AdminCountSchema(Schema):
    """A teammate's conversations: assigned to them, open and closed, and the open ones
    holding what they have not read."""

    id = fields.String()
    name = fields.String()
    open = fields.Integer()
    closed = fields.Integer()
    unread = fields.Integer()


class ConversationCountsSchema(Schema):
    """The inbox's open and closed conversations, the open ones assigned and unassigned; or
    (`count=admin`) per teammate."""

    open = fields.Integer(metadata={"optional": True})
    closed = fields.Integer(metadata={"optional": True})
    assigned = fields.Integer(metadata={"optional": True})
    unassigned = fields.Integer(metadata={"optional": True})
    admin = fields.List(fields.Nested(AdminCountSchema), metadata={"optional": True})


class CountSchema(Schema):
    type = fields.Constant("count")
    user = fields.Nested(UserCountsSchema, metadata={"optional": True})
    company = fields.Nested(CompanyCountsSchema, metadata={"optional": True})
    segment = fields.Nested(TotalSchema, metadata={"optional": True})
    tag = fields.Nested(TotalSchema, metadata={"optional": True})
    conversation = fields.Nested(ConversationCountsSchema, metadata={"optional": True})


@api.get("/counts")
@answers(CountSchema, query=COUNT_ARGS)
def get_counts() -> Any:
    """The app's totals, or counts per tag, segment or company

    No arguments: how many users, companies, segments and tags. `type=user` with
    `count=tag|segment`: users per tag or segment; `type=company` with
    `count=tag|segment|user`: companies per tag, companies with a user in each segment, or
    users per company. `type=conversation`: open, closed, assigned and unassigned; with
    `count=admin`, per teammate with their unread."""
    args = asked()
    kind, what = args.get("type"), args.get("count")
    if kind == "conversation":
        if what not in (None, "admin"):
            raise ValidationError({"count": ["type=conversation counts per admin or in all"]})
        return _conversation_counts(what is not None)
    if (kind is None) != (what is None) or (kind == "user" and what == "user") or what == "admin":
        raise ValidationError(
            {
                "count": [
                    "give type=user with count=tag|segment, "
                    "type=company with count=tag|segment|user, "
                    "or type=conversation (with count=admin)"
                ]
            }
        )
    s = services()
    with s.engine.connect() as conn:
        if kind is None:
            return app_counts(conn, g.app_id)
        assert what is not None
        if kind == "user":
            found = user_counts(conn, g.app_id, what, s.clock.now(), s.indexes)
        else:
            found = company_counts(conn, g.app_id, what, s.clock.now())
    return {kind: {what: [{name: n} for name, n in found]}}


def _conversation_counts(per_admin: bool) -> dict[str, Any]:
    s = services()
    with s.engine.connect() as conn:
        if not per_admin:
            return {"conversation": inbox_counts(conn, g.app_id)}
        counted = admin_counts(conn, g.app_id)
    admins = recent_app(s.store, g.app_id).admins
    none = {"open": 0, "closed": 0, "unread": 0}
    listed = [
        {"id": admin_id, "name": admin["name"], **counted.get(admin_id, none)}
        for admin_id, admin in admins.items()
    ]
    return {"conversation": {"admin": listed}}
