"""Marshmallow schemas for every input that crosses a boundary into a command."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validate

from commands.users import CompanyInput, Ping, SaveUser, UserInput
from domain.errors import InvalidValue
from domain.values import custom_data, parse_timestamp


class Timestamp(fields.Field):
    """A Unix timestamp or an ISO 8601 string, loaded as whole seconds since the epoch."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_timestamp(attr or "date", value)
        except InvalidValue as error:
            raise ValidationError(error.reason) from None


class Identifier(fields.Field):
    """An identifier customers send as a string or a number; kept as a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("must be a string or an integer")
        text = str(value).strip()
        if len(text) > 255:
            raise ValidationError("is longer than 255 characters")
        return text or None


def _custom(field: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ValidationError({field: ["must be an object of attribute names to values"]})
    try:
        return custom_data(field, values)
    except InvalidValue as error:
        raise ValidationError({error.field: [error.reason]}) from None


def _known(schema: Schema, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split loaded data into the schema's declared fields and everything else."""
    declared = {k: v for k, v in data.items() if k in schema.fields}
    rest = {k: v for k, v in data.items() if k not in schema.fields}
    return declared, rest


class SnippetCompanySchema(Schema):
    """`company` in intercomSettings: id, name, plan, monthly_spend, created_at, custom data."""

    class Meta:
        unknown = INCLUDE

    id = Identifier(required=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=255))
    plan = fields.String(allow_none=True, validate=validate.Length(max=255))
    monthly_spend = fields.Float(allow_none=True, allow_nan=False)
    created_at = Timestamp(allow_none=True)

    @post_load
    def to_input(self, data: dict[str, Any], **_: Any) -> CompanyInput:
        declared, rest = _known(self, data)
        company_id = declared.pop("id")
        if company_id is None:
            raise ValidationError({"id": ["must not be blank"]})
        if "created_at" in declared:
            declared["remote_created_at"] = declared.pop("created_at")
        return CompanyInput(company_id, declared, _custom("company", rest))


class ApiCompanySchema(Schema):
    """A company in the REST API (`POST /companies`, `companies` of `POST /users`), named by
    its `company_id` or by Parley's `id` (an existing one)."""

    company_id = Identifier()
    id = fields.String(validate=validate.Length(min=1, max=64))
    name = fields.String(allow_none=True, validate=validate.Length(max=255))
    plan = fields.String(allow_none=True, validate=validate.Length(max=255))
    monthly_spend = fields.Float(allow_none=True, allow_nan=False)
    remote_created_at = Timestamp(allow_none=True)
    custom_attributes = fields.Dict(load_default=dict)
    remove = fields.Boolean(load_default=False)

    @post_load
    def to_input(self, data: dict[str, Any], **_: Any) -> CompanyInput:
        company_id, public_id = data.pop("company_id", None), data.pop("id", None)
        if company_id is None and public_id is None:
            raise ValidationError({"company_id": ["must not be blank"]})
        custom = _custom("custom_attributes", data.pop("custom_attributes"))
        remove = data.pop("remove")
        return CompanyInput(company_id or "", data, custom, remove, public_id)


class SnippetUserSchema(Schema):
    """window.intercomSettings: identity, standard attributes, company, custom data."""

    class Meta:
        unknown = INCLUDE

    app_id = fields.String()
    user_id = Identifier(allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    name = fields.String(allow_none=True, validate=validate.Length(max=255))
    created_at = Timestamp(allow_none=True)
    user_hash = fields.String(allow_none=True)
    unsubscribed_from_emails = fields.Boolean(allow_none=True)
    company = fields.Nested(SnippetCompanySchema, allow_none=True)
    companies = fields.List(fields.Nested(SnippetCompanySchema), allow_none=True)
    widget = fields.Dict(allow_none=True)

    @post_load
    def to_input(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        declared, rest = _known(self, data)
        attributes: dict[str, Any] = {k: declared[k] for k in ("name",) if k in declared}
        if "created_at" in declared:
            attributes["signed_up_at"] = declared["created_at"]
        companies = list(declared.get("companies") or [])
        if declared.get("company"):
            companies.append(declared["company"])
        given = UserInput(
            user_id=declared.get("user_id"),
            email=declared.get("email"),
            attributes=attributes,
            custom=_custom("custom_data", rest),
            unsubscribed=declared.get("unsubscribed_from_emails"),
            companies=companies,
        )
        return {"user": given, "user_hash": declared.get("user_hash")}


class PingSchema(Schema):
    """What widget.js posts on boot and update."""

    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    user = fields.Nested(SnippetUserSchema, required=True)
    url = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2048))
    referrer = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2048))
    timezone = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))

    @post_load
    def to_command(self, data: dict[str, Any], **_: Any) -> Ping:
        settings = data.pop("user")
        return Ping(user=settings["user"], user_hash=settings["user_hash"], **data)


class ApiUserSchema(Schema):
    """`POST /users`: create or update a user by user_id or email (Intercom REST 1.x)."""

    id = fields.String(allow_none=True, metadata={"description": "Parley's id: update this user"})
    user_id = Identifier(allow_none=True, metadata={"description": "your identifier for the user"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    name = fields.String(allow_none=True, validate=validate.Length(max=255))
    signed_up_at = Timestamp(allow_none=True)
    remote_created_at = Timestamp(allow_none=True)  # 1.x's older name for signed_up_at
    last_request_at = Timestamp(allow_none=True)
    update_last_request_at = fields.Boolean(
        load_default=False, metadata={"description": "set `last_request_at` to now"}
    )
    new_session = fields.Boolean(
        load_default=False, metadata={"description": "count a new session (a visit)"}
    )
    last_seen_ip = fields.IP(allow_none=True)
    last_seen_user_agent = fields.String(allow_none=True, validate=validate.Length(max=1024))
    unsubscribed_from_emails = fields.Boolean(
        allow_none=True, metadata={"description": "true: no bulk emails to them"}
    )
    custom_attributes = fields.Dict(
        load_default=dict,
        metadata={"description": "your own data: names to strings, numbers, booleans, dates"},
    )
    companies = fields.List(
        fields.Nested(ApiCompanySchema),
        load_default=list,
        metadata={"description": "companies to add them to (or, with `remove`, take them out of)"},
    )

    @post_load
    def to_input(self, data: dict[str, Any], **_: Any) -> SaveUser:
        if "remote_created_at" in data:
            data.setdefault("signed_up_at", data.pop("remote_created_at"))
        attributes: dict[str, Any] = {k: data[k] for k in ("name", "signed_up_at") if k in data}
        ip = data.get("last_seen_ip")
        given = UserInput(
            user_id=data.get("user_id"),
            email=data.get("email"),
            attributes=attributes,
            custom=_custom("custom_attributes", data["custom_attributes"]),
            unsubscribed=data.get("unsubscribed_from_emails"),
            companies=data["companies"],
        )
        if data.get("id") is None and given.user_id is None and given.email is None:
            raise ValidationError({"user_id": ["a user_id, an email or an id is required"]})
        # The app comes from the credentials, not the body: the view fills it in.
        return SaveUser(
            app_id="",
            user=given,
            id=data.get("id"),
            last_request_at=data.get("last_request_at"),
            update_last_request_at=data["update_last_request_at"],
            new_session=data["new_session"],
            ip=str(ip) if ip is not None else None,
            user_agent=data.get("last_seen_user_agent"),
        )


class AppCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class AdminCreateSchema(Schema):
    app_id = fields.String(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


MAX_DEPTH = 32  # no Parley input nests deeper; a filter of filters is well within


def load_json(text: str | bytes, field: str | None = "body") -> Any:
    """JSON text as Python values, refused (naming `field`, if any) when it is not JSON or
    nests deeper than MAX_DEPTH: the C parser stops by itself at Python's recursion limit, and
    the depth of what it read is then measured without recursion."""
    reason = None
    try:
        value = json.loads(text)
    except RecursionError:
        reason = f"nested deeper than {MAX_DEPTH} levels"
    except ValueError as error:
        reason = f"not valid JSON: {error}"
    else:
        reason = _unfit(value)
    if reason is not None:
        raise ValidationError({field: [reason]} if field else reason)
    return value


def _unfit(value: Any) -> str | None:
    """Why parsed JSON cannot be taken, walked once without recursion: containers nested
    deeper than MAX_DEPTH, or a string no UTF-8 can hold (JSON's \\ud800 alone)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "holds a lone surrogate (\\ud800 to \\udfff): not a character"
        elif isinstance(item, dict | list):
            if level > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return None


def refuse_nul(data: Any, path: str = "") -> None:
    """NUL characters cannot be stored in PostgreSQL text: refuse them where they arrive,
    naming the field, rather than record an event no read model could hold."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ValidationError({path or "body": ["cannot contain NUL characters"]})
    elif isinstance(data, dict):
        for key, value in data.items():
            refuse_nul(key, path or "body")
            refuse_nul(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            refuse_nul(value, f"{path}[{n}]")
