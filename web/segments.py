"""The REST API's segments and counts (Intercom 1.x shapes). Routes join the `api`
blueprint (same authentication); web/app.py imports this module before registering it."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate

from commands.apps import recent_app
from commands.audience_schemas import FilterField
from commands.errors import SegmentNotFound
from commands.handling import handle
from commands.segments import DeleteSegment, SaveSegment, delete_segment, save_segment
from queries.conversations import admin_counts, inbox_counts
from queries.counts import app_counts, company_counts, user_counts
from queries.segments import find_segment, list_segments, segment_size
from web.api import api, body, read_your_writes, services


class SegmentIn(Schema):
    name = fields.String(validate=validate.Length(min=1, max=255))
    filter = FilterField()


class CountArgs(Schema):
    type = fields.String(validate=validate.OneOf(["user", "company", "conversation"]))
    count = fields.String(validate=validate.OneOf(["tag", "segment", "user", "admin"]))


SEGMENT_IN, COUNT_ARGS = SegmentIn(), CountArgs()


def _segment(row: dict[str, Any], count: int | None = None) -> dict[str, Any]:
    found = {
        "type": "segment",
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "person_type": "user",
        "filter": row["definition"],
    }
    if count is not None:
        found["count"] = count
    return found


def _show(segment_id: str, with_count: bool = False) -> ResponseReturnValue:
    s = services()
    with s.engine.connect() as conn:
        row = find_segment(conn, g.app_id, segment_id)
        if row is None:
            raise SegmentNotFound(f"segment {segment_id!r}")
        now = s.clock.now()
        size = segment_size(conn, g.app_id, segment_id, now, s.indexes) if with_count else None
    return jsonify(_segment(row, size))


@api.post("/segments")
def post_segment() -> ResponseReturnValue:
    given = SEGMENT_IN.load(body())
    missing = {k: ["is required"] for k in ("name", "filter") if k not in given}
    if missing:
        raise ValidationError(missing)
    s = services()
    cmd = SaveSegment(g.app_id, given["name"], given["filter"])
    saved = handle(save_segment, cmd, s.store, s.clock)
    read_your_writes(saved.position)
    return _show(saved.id)


@api.get("/segments")
def get_segments() -> ResponseReturnValue:
    with services().engine.connect() as conn:
        rows = list_segments(conn, g.app_id)
    return jsonify({"type": "segment.list", "segments": [_segment(r) for r in rows]})


@api.get("/segments/<segment_id>")
def get_segment(segment_id: str) -> ResponseReturnValue:
    return _show(segment_id, request.args.get("include_count", "").lower() == "true")


@api.put("/segments/<segment_id>")
def put_segment(segment_id: str) -> ResponseReturnValue:
    given = SEGMENT_IN.load(body())
    s = services()
    cmd = SaveSegment(g.app_id, given.get("name"), given.get("filter"), id=segment_id)
    saved = handle(save_segment, cmd, s.store, s.clock)
    read_your_writes(saved.position)
    return _show(segment_id)


@api.delete("/segments/<segment_id>")
def remove_segment(segment_id: str) -> ResponseReturnValue:
    s = services()
    with s.engine.connect() as conn:
        row = find_segment(conn, g.app_id, segment_id)
    if row is None:
        raise SegmentNotFound(f"segment {segment_id!r}")
    position = handle(delete_segment, DeleteSegment(g.app_id, segment_id), s.store, s.clock)
    read_your_writes(position)
    return jsonify(_segment(row))


@api.get("/counts")
def get_counts() -> ResponseReturnValue:
    """App totals, or per tag / segment / company counts (`type` and `count`); conversations:
    open, closed, assigned and unassigned, or per teammate (`count=admin`) with their unread."""
    args = COUNT_ARGS.load(request.args)
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
            return jsonify({"type": "count", **app_counts(conn, g.app_id)})
        assert what is not None
        if kind == "user":
            found = user_counts(conn, g.app_id, what, s.clock.now(), s.indexes)
        else:
            found = company_counts(conn, g.app_id, what, s.clock.now())
    return jsonify({"type": "count", kind: {what: [{name: n} for name, n in found]}})


def _conversation_counts(per_admin: bool) -> ResponseReturnValue:
    s = services()
    with s.engine.connect() as conn:
        if not per_admin:
            return jsonify({"type": "count", "conversation": inbox_counts(conn, g.app_id)})
        counted = admin_counts(conn, g.app_id)
    admins = recent_app(s.store, g.app_id).admins
    none = {"open": 0, "closed": 0, "unread": 0}
    listed = [
        {"id": admin_id, "name": admin["name"], **counted.get(admin_id, none)}
        for admin_id, admin in admins.items()
    ]
    return jsonify({"type": "count", "conversation": {"admin": listed}})
