"""What the composer's form says: who the message is for (ticked users, every user a filter
matches, or an auto message's conditions), what it says, and each field's error. The message
it describes is made by the same code as the REST API's (commands/manual_messages.py,
commands/auto_messages.py), so a field refused here is refused there."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import Connection, and_, select

from commands.auto_messages import ComposeAutoMessage
from commands.manual_messages import ComposeManual, compose_manual
from domain.errors import InvalidValue
from domain.filters import EVERYONE, Filter, to_json
from domain.messages import TYPES, Message
from projections.tables import users
from queries.audience.sql import user_filter
from queries.segments import definitions
from queries.users import count_matching
from web.dashboard.users import audience_of, list_args
from web.errors import flatten

MAX_CHOSEN = 1000  # as POST /messages takes in one list
FIELDS = ("message_type", "subject", "body", "markup", "template", "url", "stop_at", "audience")


class DraftSchema(Schema):
    """The composer's fields, as the form sends them (the rest of the form is the list's)."""

    class Meta:
        unknown = EXCLUDE

    kind = fields.String(load_default="manual", validate=validate.OneOf(["manual", "auto"]))
    message_type = fields.String(load_default="conversation", validate=validate.OneOf(TYPES))
    subject = fields.String(load_default="", validate=validate.Length(max=255))
    body = fields.String(load_default="", validate=validate.Length(max=100_000))
    markup = fields.String(load_default="markdown", validate=validate.OneOf(["markdown", "html"]))
    template = fields.String(
        load_default="personal", validate=validate.OneOf(["official", "personal"])
    )
    url = fields.String(load_default="", validate=validate.Length(max=2048))
    stop_at = fields.String(load_default="", validate=validate.Length(max=10))
    preview_as = fields.String(load_default="", validate=validate.Length(max=255))


DRAFT_IN = DraftSchema()


@dataclass
class Audience:
    """Ticked users (`ids`, this app's), or everyone the list's filter and search match."""

    scope: str  # "selected" or "all"
    ids: list[str]
    filter: Filter
    kept: dict[str, str]  # the list's own arguments: filter, q

    @property
    def json(self) -> dict[str, Any]:
        return to_json(self.filter)


@dataclass
class Draft:
    kind: str
    message_type: str
    subject: str
    body: str
    markup: str
    template: str
    unsubscribe_link: bool
    url: str
    stop_at: str
    preview_as: str
    audience: Audience | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> bool:
        return self.message_type == "email"


def read_audience(conn: Connection, app_id: str, source: Any, kind: str) -> Audience:
    """Who the form means; raises InvalidValue (field `audience`) when it means no one."""
    try:
        args = list_args(source)
    except ValidationError as error:
        reason = "; ".join(f"{f}: {r}" for f, r in flatten(error.messages))
        raise InvalidValue("audience", reason) from None
    kept = {k: source[k] for k in ("filter", "q") if source.get(k, "").strip()}
    everyone = audience_of(args)
    if kind == "auto" or source.get("scope") == "all":
        if kind == "auto" and everyone == EVERYONE:
            raise InvalidValue(
                "audience", "an auto message goes to users matching conditions: filter first"
            )
        return Audience("all", [], everyone, kept)
    ticked = list(dict.fromkeys(source.getlist("ids")))[:MAX_CHOSEN]
    mine = select(users.c.id).where(users.c.app_id == app_id, users.c.id.in_(ticked))
    ids = list(conn.execute(mine).scalars()) if ticked else []
    if not ids:
        raise InvalidValue("audience", "tick the users to message first, or choose all matching")
    ordered = [i for i in ticked if i in set(ids)]
    return Audience("selected", ordered, everyone, kept)


def read_draft(conn: Connection, app_id: str, source: Any) -> Draft:
    """The form as a draft, with what it cannot mean as errors beside fields."""
    errors: dict[str, str] = {}
    try:
        loaded: dict[str, Any] = DRAFT_IN.load(dict(source.items()))
    except ValidationError as error:
        errors = {f.split(".")[0]: r for f, r in flatten(error.messages)}
        loaded = DRAFT_IN.load({})
    audience = None
    try:
        audience = read_audience(conn, app_id, source, loaded["kind"])
    except InvalidValue as invalid:
        errors["audience"] = invalid.reason
    opened = source.get("opened") == "1"
    bulk = loaded["kind"] == "auto" or source.get("scope") == "all"
    unsubscribe = source.get("unsubscribe_link") == "on" if opened else bulk
    return Draft(
        **{k: v for k, v in loaded.items() if k != "unsubscribe_link"},
        unsubscribe_link=unsubscribe,
        audience=audience,
        errors=errors,
    )


def stop_moment(text: str, now: datetime) -> int | None:
    """'Stop after' a day: shown until that day ends (UTC)."""
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue("stop_at", f"{text!r} is not a date as YYYY-MM-DD") from None
    return int(datetime.combine(day + timedelta(days=1), time(), UTC).timestamp())


def manual_command(draft: Draft, app_id: str, admin_id: str, keys: set[str]) -> ComposeManual:
    assert draft.audience is not None
    chosen = draft.audience.scope == "selected"
    return ComposeManual(
        app_id=app_id,
        message_type=draft.message_type,
        admin_id=admin_id,
        subject=draft.subject.strip() or None,
        body=draft.body,
        markup=draft.markup,
        style=draft.template if draft.email else None,
        custom_keys=keys,
        audience=None if chosen else draft.audience.json,
        recipients=draft.audience.ids if chosen else None,
        unsubscribe_link=draft.unsubscribe_link if draft.email else None,
        at_once=chosen and len(draft.audience.ids) == 1,
    )


def auto_command(
    draft: Draft, app_id: str, admin_id: str, keys: set[str], now: datetime
) -> ComposeAutoMessage:
    assert draft.audience is not None
    return ComposeAutoMessage(
        app_id=app_id,
        message_type=draft.message_type,
        admin_id=admin_id,
        subject=draft.subject.strip() or None,
        body=draft.body,
        markup=draft.markup,
        style=draft.template if draft.email else None,
        custom_keys=keys,
        audience=draft.audience.json,
        url_pattern=draft.url.strip() or None,
        stop_at=stop_moment(draft.stop_at, now),
        unsubscribe_link=draft.unsubscribe_link if draft.email else None,
    )


def composed(
    draft: Draft, app_id: str, admin_id: str, keys: set[str], now: datetime
) -> tuple[Message | None, ComposeManual | ComposeAutoMessage | None]:
    """The message the draft makes (unsaved) and its command; None, with the draft's errors
    filled in beside their fields, when it cannot be sent."""
    if draft.errors:
        return None, None
    try:
        if draft.kind == "auto":
            auto = auto_command(draft, app_id, admin_id, keys, now)
            return Message.compose(kind="auto", at=now, **asdict(auto)), auto
        if draft.url.strip() or draft.stop_at.strip():
            raise InvalidValue("url", "only auto messages show on some pages or stop on a date")
        manual = manual_command(draft, app_id, admin_id, keys)
        return compose_manual(manual, now), manual
    except InvalidValue as invalid:
        draft.errors[field_of(invalid.field)] = invalid.reason
        return None, None


def field_of(name: str) -> str:
    """The form field an InvalidValue names (`filter.all[0].value` is the audience's)."""
    head = name.split(".")[0].split("[")[0]
    if head in ("filter", "to", "kind"):
        return "audience"
    return head if head in FIELDS else "body"


@dataclass(frozen=True)
class Reach:
    matching: int  # users the audience names now, as the user list counts them
    reached: int  # of them, those the message goes to (an email: those it can be sent to)


def reach(conn: Connection, app_id: str, audience: Audience, email: bool, now: datetime) -> Reach:
    """How many users the message reaches now: the user list's own count of the filter (or
    of the ticked users); an email leaves out users without an address and, when bulk,
    those who unsubscribed (as workers/fan_out.py does)."""
    if audience.scope == "selected":
        where: Any = users.c.id.in_(audience.ids)
    else:
        lookup = definitions(conn, app_id)
        where = user_filter(audience.filter, conn.dialect.name, now, lookup, app_id)
    matching = count_matching(conn, app_id, where)
    if not email:
        return Reach(matching, matching)
    can: Any = users.c.email.is_not(None)
    if audience.scope == "all":
        can = and_(can, users.c.unsubscribed_from_emails.is_(False))
    return Reach(matching, count_matching(conn, app_id, and_(where, can)))
