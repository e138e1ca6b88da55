"""Notes on users over REST, in the Intercom 1.x shape: `POST /notes`, `GET /notes/{id}`,
`GET /notes?user_id=|email=|id=` (newest first, in pages).

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from commands.apps import recent_app
from commands.handling import handle
from commands.notes import NoteSchema, UserRefSchema, write_note
from queries.notes import find_note, notes_of
from web.api import api, body, named_user, page_of, read_your_writes, services
from web.errors import NotFound


class NoteOut(Schema):
    type = fields.Constant("note")
    id = fields.String()
    created_at = fields.Integer()
    body = fields.String()
    user = fields.Function(lambda row: {"type": "user", "id": row["user_id"]})
    author = fields.Raw(allow_none=True)


class NoteArgs(UserRefSchema):
    """`GET /notes`: whose notes, and which page of them."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


NOTE_IN, NOTE_OUT, NOTE_ARGS = NoteSchema(), NoteOut(), NoteArgs()
REFS = ("id", "user_id", "email")


def _with_authors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each note with its author: the teammate (a former one too), or None."""
    app = recent_app(services().store, g.app_id)
    for row in rows:
        admin = app.teammate(row["admin_id"]) if row["admin_id"] else None
        row["author"] = (
            {
                "type": "admin",
                "id": row["admin_id"],
                "name": admin.get("name") if admin else None,
                "email": admin.get("email") if admin else None,
            }
            if row["admin_id"]
            else None
        )
    return rows


def _shown(note_id: str) -> ResponseReturnValue:
    with services().engine.connect() as conn:
        row = find_note(conn, g.app_id, note_id)
    if row is None:
        raise NotFound(f"no note {note_id!r}")
    return jsonify(NOTE_OUT.dump(_with_authors([row])[0]))


@api.post("/notes")
def post_note() -> ResponseReturnValue:
    cmd = replace(NOTE_IN.load(body()), app_id=g.app_id)
    s = services()
    written = handle(write_note, cmd, s.store, s.clock)
    read_your_writes(written.position)
    return _shown(written.note_id)


@api.get("/notes/<note_id>")
def get_note(note_id: str) -> ResponseReturnValue:
    return _shown(note_id)


@api.get("/notes")
def get_notes() -> ResponseReturnValue:
    args = NOTE_ARGS.load(request.args)
    ref = {key: args[key] for key in REFS if args.get(key)}
    if not ref:
        raise ValidationError({"user_id": ["give the user's user_id, email or id"]})
    user = named_user(ref)
    with services().engine.connect() as conn:
        found = notes_of(conn, g.app_id, user.id.hex, args["page"], args["per_page"])
    _with_authors(found.items)
    listing = page_of("note", "notes", found, NOTE_OUT, "api.get_notes")
    if found.has_next:  # the next page of the same user's notes
        listing["pages"]["next"] = url_for(
            "api.get_notes", **ref, page=found.page + 1, per_page=found.per_page, _external=True
        )
    return jsonify(listing)
