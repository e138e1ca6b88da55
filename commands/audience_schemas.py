"""Schemas for the audience: filters (as JSON or JSON text), list arguments and tagging."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from commands.schemas import Identifier, Timestamp, load_json
from commands.tags import CompanyRef, SaveTag, UserRef
from commands.tracking import TrackEvent
from commands.views import Click, View
from domain.errors import InvalidValue
from domain.filters import Filter, parse_filter
from domain.values import custom_data
from projections.users import SORTABLE


class FilterField(fields.Field):
    """A filter in the JSON form of domain/filters.py; in a query string, as JSON text.

    Errors keep their path inside the filter, so `filter.all[2].value` names the bad part.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Filter:
        if isinstance(value, str):
            value = load_json(value, field=None)
        try:
            return parse_filter(value, field="")
        except InvalidValue as error:
            where = error.field.lstrip(".")
            raise ValidationError({where: [error.reason]} if where else error.reason) from None


class UserSearchArgs(Schema):
    """`GET /users` and its CSV export: which users, in which order, how many per page."""

    filter = FilterField()
    tag_id = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "users with this tag"}
    )
    segment_id = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "users in this segment"},
    )
    sort = fields.String(
        load_default="created_at",
        validate=validate.OneOf(SORTABLE),
        metadata={"description": "the attribute to order by"},
    )
    order = fields.String(
        load_default="desc",
        validate=validate.OneOf(["asc", "desc"]),
        metadata={"description": "users without a value come last either way"},
    )
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    after = fields.String(
        validate=validate.Length(max=1000),
        metadata={"description": "the cursor in `pages.next`: follow that URL for the next page"},
    )


class UserRefSchema(Schema):
    id = fields.String(validate=validate.Length(max=64))
    user_id = Identifier()
    email = fields.String(validate=validate.Length(max=255))
    untag = fields.Boolean(load_default=False)

    @validates_schema
    def named(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not any(data.get(k) for k in ("id", "user_id", "email")):
            raise ValidationError("each user needs an id, user_id or email")

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> UserRef:
        return UserRef(**data)


class CompanyRefSchema(Schema):
    """A company as a user's `companies` list shows it, and as `POST /tags` names one to tag
    or untag (by Parley `id` or the customer's `company_id`)."""

    type = fields.Constant("company", dump_only=True)
    id = fields.String(validate=validate.Length(max=64))
    company_id = Identifier()
    name = fields.String(allow_none=True, dump_only=True)
    untag = fields.Boolean(load_default=False, load_only=True)

    @validates_schema
    def named(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not any(data.get(k) for k in ("id", "company_id")):
            raise ValidationError("each company needs an id or company_id")

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> CompanyRef:
        return CompanyRef(**data)


class TagSchema(Schema):
    """`POST /tags`: name (and id, to rename), users and companies to tag or untag, or a
    filter whose users all get the tag."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    id = fields.String(validate=validate.Length(max=64))
    users = fields.List(fields.Nested(UserRefSchema), load_default=list)
    companies = fields.List(fields.Nested(CompanyRefSchema), load_default=list)
    filter = FilterField()

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> tuple[SaveTag, Filter | None]:
        found = data.pop("filter", None)
        return SaveTag(app_id="", **data), found


MAX_METADATA = 10


def _metadata(values: Any) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValidationError({"metadata": ["must be an object of names to values"]})
    if len(values) > MAX_METADATA:
        raise ValidationError({"metadata": [f"at most {MAX_METADATA} keys"]})
    rich = {key: value for key, value in values.items() if isinstance(value, dict)}
    try:
        plain = custom_data("metadata", {k: v for k, v in values.items() if k not in rich})
    except InvalidValue as error:
        raise ValidationError({error.field: [error.reason]}) from None
    return {**plain, **{key: _rich(key, value) for key, value in rich.items()}}


CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def _rich(key: str, value: dict[str, Any]) -> dict[str, Any]:
    """Intercom 1.x's two object values in event metadata: a link `{url, value}` and a price
    `{amount, currency}` (amount in cents, an ISO 4217 code)."""
    field = f"metadata.{key}"
    if set(value) == {"url", "value"}:
        url, text = value["url"], value["value"]
        if not isinstance(url, str) or not re.match(r"^https?://\S+$", url) or len(url) > 2048:
            raise ValidationError({field: ["a link's url must be an http(s) URL"]})
        if not isinstance(text, str) or len(text) > 255:
            raise ValidationError(
                {field: ["a link's value must be text of 255 characters at most"]}
            )
        return {"url": url, "value": text}
    if set(value) == {"amount", "currency"}:
        amount, currency = value["amount"], value["currency"]
        if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) > 10**15:
            raise ValidationError({field: ["a price's amount must be a whole number of cents"]})
        if not isinstance(currency, str) or not CURRENCY.match(currency):
            raise ValidationError({field: ["a price's currency must be a 3-letter ISO code"]})
        return {"amount": amount, "currency": currency.lower()}
    raise ValidationError(
        {
            field: [
                "custom data values must be strings, numbers, booleans or null; objects only "
                "as a link {url, value} or a price {amount, currency}"
            ]
        }
    )


EVENT_NAME = validate.And(
    validate.Length(min=1, max=255),
    validate.Regexp(r"^[^\x00]*$", error="cannot contain NUL characters"),
)


class EventSchema(Schema):
    """`POST /events` (Intercom 1.x): event_name, created_at, the user, metadata."""

    event_name = fields.String(required=True, validate=EVENT_NAME)
    created_at = Timestamp(required=True)
    id = fields.String(validate=validate.Length(max=64))
    user_id = Identifier()
    email = fields.String(validate=validate.Length(max=255))
    metadata = fields.Raw(load_default=None, metadata={"type": "object"})

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> TrackEvent:
        if not any(data.get(k) for k in ("id", "user_id", "email")):
            raise ValidationError({"user_id": ["a user_id, an email or an id is required"]})
        data["metadata"] = _metadata(data.get("metadata"))
        return TrackEvent(app_id="", **data)


class WidgetEventSchema(Schema):
    """What widget.js posts for `Intercom('trackEvent', name, metadata)`."""

    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    user_id = Identifier(allow_none=True)
    email = fields.String(allow_none=True, validate=validate.Length(max=255))
    user_hash = fields.String(allow_none=True, validate=validate.Length(max=128))
    event_name = fields.String(required=True, validate=EVENT_NAME)
    metadata = fields.Raw(load_default=None, metadata={"type": "object"})

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> TrackEvent:
        data["metadata"] = _metadata(data.get("metadata"))
        return TrackEvent(**data)


class WidgetViewSchema(Schema):
    """What widget.js posts when it displays an in-app message."""

    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    message_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    user_id = Identifier(allow_none=True)
    email = fields.String(allow_none=True, validate=validate.Length(max=255))
    user_hash = fields.String(allow_none=True, validate=validate.Length(max=128))

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> View:
        return View(**data)


class WidgetClickSchema(WidgetViewSchema):
    """What widget.js posts when a link in an in-app message is followed."""

    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2048),
    )

    @post_load
    def build(self, data: dict[str, Any], **_kwargs: Any) -> Click:
        return Click(**data)
