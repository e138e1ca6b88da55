"""Notes on users over REST, in the Intercom 1.x shape: `POST /notes`, `GET /notes/{id}`,
`GET /notes?user_id=|email=|id=` (newest first, in pages).

Routes join the `api` blueprint; web/app.py imports this module before registering it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import g, url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_dump

from commands.apps import recent_app
from commands.handling import handle
from commands.notes import NoteSchema, NoteUserRefSchema, write_note
from queries.notes import find_note, notes_of
from web.api import PageArgs, api, named_user, page_of, read_your_writes, services
from web.errors import NotFound
from web.openapi import answers, asked, given
from web.schemas import PagesSchema, UserRefOutSchema


class NoteAuthorSchema(Schema):
    """The teammate who wrote the note (a former one: name and email null)."""

    type = fields.Constant("admin")
    id = fields.String()
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class NoteOut(Schema):
    type = fields.Constant("note")
    id = fields.String()
    created_at = fields.Integer()
    body = fields.String(metadata={"description": "HTML"})
    user = fields.Nested(UserRefOutSchema)
    author = fields.Nested(
        NoteAuthorSchema,
        allow_none=True,
        metadata={"description": "null: written through the API naming no teammate"},
    )

    @pre_dump
    def user_ref(self, row: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**row, "user": {"id": row["user_id"]}}


class NoteListSchema(Schema):
    type = fields.Constant("note.list")
    notes = fields.List(fields.Nested(NoteOut))
    total_count = fields.Integer()
    pages = fields.Nested(PagesSchema)


class NoteArgs(NoteUserRefSchema, PageArgs):
    """`GET /notes`: whose notes, and which page of them."""

    class Meta:
        unknown = EXCLUDE


NOTE_IN, NOTE_ARGS = NoteSchema(), NoteArgs()
REFS = ("id", "user_id", "email")


def _with_authors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each note with its author: the teammate (a former one too), or None."""
    app = recent_app(services().store, g.app_id)
    for row in rows:
        admin = app.teammate(row["admin_id"]) if row["admin_id"] else None
        row["author"] = (
            {
                "id": row["admin_id"],
                "name": admin.get("name") if admin else None,
                "email": admin.get("email") if admin else None,
            }
            if row["admin_id"]
            else None
        )
    return rows


def _shown(note_id: str) -> dict[str, Any]:
    with services().engine.connect() as conn:
        row = find_note(conn, g.app_id, note_id)
    if row is None:
        raise NotFound(f"no note {note_id!r}")
    return _with_authors([row])[0]


@api.post("/notes")
@answers(NoteOut, body=NOTE_IN)
def post_note() -> Any:
    """Write a note on a user

    The user is named in `user` (`{id | user_id | email}`), or at the top level as
    python-intercom sends it; `admin_id` is the teammate writing it. The `body` is HTML
    (sanitised); plain text becomes a paragraph."""
    cmd = replace(given(), app_id=g.app_id)
    s = services()
    written = handle(write_note, cmd, s.store, s.clock)
    read_your_writes(written.position)
    return _shown(written.note_id)


@api.get("/notes/<note_id>")
@answers(NoteOut)
def get_note(note_id: str) -> Any:
    """One note, by id

    With the user it is on and the teammate who wrote it."""
    return _shown(note_id)


@api.get("/notes")
@answers(NoteListSchema, query=NOTE_ARGS)
def get_notes() -> Any:
    """The notes on a user, newest first, a page at a time

    The user is named by `user_id`, `email` or `id` (Parley's)."""
    args = asked()
    ref = {key: args[key] for key in REFS if args.get(key)}
    if not ref:
        raise ValidationError({"user_id": ["give the user's user_id, email or id"]})
    user = named_user(ref)
    with services().engine.connect() as conn:
        found = notes_of(conn, g.app_id, user.id.hex, args["page"], args["per_page"])
    _with_authors(found.items)
    listing = page_of("note", "notes", found, "api.get_notes")
    if found.has_next:  # the next page of the same user's notes
        listing["pages"]["next"] = url_for(
            "api.get_notes", **ref, page=found.page + 1, per_page=found.per_page, _external=True
        )
    return listing
