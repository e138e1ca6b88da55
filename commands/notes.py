"""Writing a note on a user: `POST /notes` (Intercom 1.x) and the profile's Notes form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from commands.clock import Clock
from commands.conversations import check_admin
from commands.schemas import Identifier
from commands.store import Parley
from commands.users import find_named_user
from domain.notes import MAX_BODY, Note


@dataclass(frozen=True)
class WriteNote:
    """A note on the user named by Parley `id`, `user_id` or `email` (the first given)."""

    app_id: str
    body: str
    id: str | None = None
    user_id: str | None = None
    email: str | None = None
    admin_id: str | None = None  # the teammate who writes it; None: the API named no one
    markup: str = "html"  # the API's bodies are HTML; the dashboard's are text
    via: str = "api"


@dataclass(frozen=True)
class WrittenNote:
    note_id: str
    position: int


def write_note(cmd: WriteNote, store: Parley, clock: Clock) -> WrittenNote:
    user = find_named_user(store, cmd.app_id, id=cmd.id, user_id=cmd.user_id, email=cmd.email)
    if cmd.admin_id is not None:
        check_admin(store, cmd.app_id, cmd.admin_id, "admin_id")
    note = Note.write(
        app_id=cmd.app_id,
        user_key=user.id.hex,
        admin_id=cmd.admin_id,
        body=cmd.body,
        markup=cmd.markup,
        via=cmd.via,
        at=clock.now(),
    )
    return WrittenNote(note.note_id, store.save_all(note))


class NoteUserRefSchema(Schema):
    """A user as Intercom's clients name one: Parley `id`, `user_id` or `email`."""

    id = fields.String(validate=validate.Length(max=64))
    user_id = Identifier(allow_none=True)
    email = fields.String(allow_none=True, validate=validate.Length(max=255))


class NoteSchema(NoteUserRefSchema):
    """`POST /notes`: `{body, admin_id?, user: {id|user_id|email}}`, or the user named at the
    top level as python-intercom sends it (`{body, email}`)."""

    body = fields.String(required=True, validate=validate.Length(min=1, max=MAX_BODY))
    admin_id = Identifier(allow_none=True, load_default=None)
    user = fields.Nested(NoteUserRefSchema)

    @pre_load
    def user_is_an_object(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data.get("user", {}), dict):
            raise ValidationError({"user": ["must be an object: {id | user_id | email}"]})
        return data

    @validates_schema
    def names_a_user(self, data: dict[str, Any], **_: Any) -> None:
        if not any(_named(data).values()):
            raise ValidationError({"user": ["a user's id, user_id or email is required"]})

    @post_load
    def to_command(self, data: dict[str, Any], **_: Any) -> WriteNote:
        # The app comes from the credentials, not the body: the view fills it in.
        named = _named(data)
        return WriteNote(
            app_id="",
            body=data["body"],
            id=named["id"],
            user_id=named["user_id"],
            email=named["email"],
            admin_id=data["admin_id"],
        )


def _named(data: dict[str, Any]) -> dict[str, str | None]:
    """The user reference, from `user` when given, else from the top level."""
    ref = data.get("user") or data
    return {key: ref.get(key) or None for key in ("id", "user_id", "email")}
