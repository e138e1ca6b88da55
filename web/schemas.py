"""Output schemas: the REST API's shape (Intercom 1.x), declared once."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_dump

from commands.audience_schemas import CompanyRefSchema


class PagesSchema(Schema):
    """Where a listing is: `next` is the URL of the next page (null on the last)."""

    type = fields.Constant("pages")
    page = fields.Integer()
    per_page = fields.Integer()
    total_pages = fields.Integer()
    next = fields.String(allow_none=True)


class CursorPagesSchema(Schema):
    """Where a listing followed by cursor is: `next` is the URL of the next page (its
    `before=` cursor), null on the last."""

    type = fields.Constant("pages", required=True)
    per_page = fields.Integer(required=True)
    next = fields.String(required=True, allow_none=True)


class AdminRefSchema(Schema):
    """A teammate, by id."""

    type = fields.Constant("admin", required=True)
    id = fields.String(required=True)


class UserRefOutSchema(Schema):
    """A user, by Parley's id."""

    type = fields.Constant("user", required=True)
    id = fields.String(required=True, metadata={"description": "Parley's id of the user"})


class TagOutSchema(Schema):
    type = fields.Constant("tag")
    id = fields.String()
    name = fields.String()


class ListOf(Schema):
    """A `{type: "<kind>.list", <plural>: [...]}` wrapper, dumped from the bare list."""

    @pre_dump
    def wrap(self, items: Any, **_: Any) -> dict[str, Any]:
        return {self.plural: items} if isinstance(items, list) else items  # type: ignore[attr-defined]


class TagListSchema(ListOf):
    plural = "tags"
    type = fields.Constant("tag.list")
    tags = fields.List(fields.Nested(TagOutSchema))


class SegmentRefSchema(Schema):
    type = fields.Constant("segment")
    id = fields.String()
    name = fields.String()


class SegmentRefListSchema(ListOf):
    plural = "segments"
    type = fields.Constant("segment.list")
    segments = fields.List(fields.Nested(SegmentRefSchema))


class CompanyRefListSchema(ListOf):
    plural = "companies"
    type = fields.Constant("company.list")
    companies = fields.List(fields.Nested(CompanyRefSchema))


class LocationSchema(Schema):
    type = fields.Constant("location_data")
    city_name = fields.String(attribute="city", allow_none=True)
    country_name = fields.String(attribute="country", allow_none=True)
    timezone = fields.String(allow_none=True)


class UserSchema(Schema):
    type = fields.Constant("user")
    id = fields.String(metadata={"description": "Parley's id of the user"})
    app_id = fields.String()
    user_id = fields.String(
        allow_none=True, metadata={"description": "your identifier for the user"}
    )
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    created_at = fields.Integer()
    updated_at = fields.Integer()
    signed_up_at = fields.Integer(
        allow_none=True, metadata={"description": "when they signed up to your product (Unix time)"}
    )
    last_request_at = fields.Integer(
        allow_none=True, metadata={"description": "their last page view or API update (Unix time)"}
    )
    last_seen_at = fields.Integer(
        allow_none=True, metadata={"description": "when the widget last saw them"}
    )
    session_count = fields.Integer(
        metadata={"description": "visits: a page view 30 minutes after the last starts one"}
    )
    last_seen_ip = fields.String(allow_none=True)
    user_agent_data = fields.String(
        attribute="user_agent",
        allow_none=True,
        metadata={"description": "their browser's User-Agent"},
    )
    unsubscribed_from_emails = fields.Boolean(metadata={"description": "they take no bulk emails"})
    relationship_score = fields.Integer(
        metadata={
            "description": "0 to 100, personal contact: half for the team's last message to "
            "them, half for their last to the team; 100 when both are within 30 days"
        }
    )
    last_message_sent_at = fields.Integer(
        allow_none=True,
        metadata={"description": "the team's last manual message or comment to them"},
    )
    last_message_received_at = fields.Integer(
        allow_none=True, metadata={"description": "their last comment to the team"}
    )
    custom_attributes = fields.Dict(metadata={"description": "your own data about them"})
    location_data = fields.Nested(LocationSchema)
    companies = fields.Nested(CompanyRefListSchema)
    tags = fields.Nested(TagListSchema)
    segments = fields.Nested(SegmentRefListSchema)

    @pre_dump
    def lists(self, row: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            "companies": [],
            "tags": [],
            "segments": [],
            **row,
            "location_data": row,
        }


class PlanSchema(Schema):
    type = fields.Constant("plan")
    name = fields.String()


class CompanySchema(Schema):
    type = fields.Constant("company")
    id = fields.String()
    app_id = fields.String()
    company_id = fields.String()
    name = fields.String(allow_none=True)
    plan = fields.Nested(PlanSchema, allow_none=True)
    monthly_spend = fields.Float(allow_none=True)
    remote_created_at = fields.Integer(allow_none=True)
    created_at = fields.Integer()
    updated_at = fields.Integer()
    user_count = fields.Integer()
    custom_attributes = fields.Dict()
    tags = fields.Nested(TagListSchema)

    @pre_dump
    def objects(self, row: dict[str, Any], **_: Any) -> dict[str, Any]:
        plan = row.get("plan")
        return {"tags": [], **row, "plan": None if plan is None else {"name": plan}}


class UserListSchema(Schema):
    type = fields.Constant("user.list")
    users = fields.List(fields.Nested(UserSchema))
    total_count = fields.Integer()
    pages = fields.Nested(PagesSchema)


class CompanyListSchema(Schema):
    type = fields.Constant("company.list")
    companies = fields.List(fields.Nested(CompanySchema))
    total_count = fields.Integer()
    pages = fields.Nested(PagesSchema)
    total_monthly_spend = fields.Float(
        metadata={"description": "the monthly spend of all the app's companies"}
    )
