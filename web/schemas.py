"""Output schemas: the REST API's shape (Intercom 1.x), declared once."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from commands.audience_schemas import CompanyRefSchema


def tag_list(row: dict[str, Any]) -> dict[str, Any]:
    tags = [{"type": "tag", "id": t["id"], "name": t["name"]} for t in row.get("tags", [])]
    return {"type": "tag.list", "tags": tags}


class UserSchema(Schema):
    type = fields.Constant("user")
    id = fields.String()
    app_id = fields.String()
    user_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    created_at = fields.Integer()
    updated_at = fields.Integer()
    signed_up_at = fields.Integer(allow_none=True)
    last_request_at = fields.Integer(allow_none=True)
    last_seen_at = fields.Integer(allow_none=True)
    session_count = fields.Integer()
    last_seen_ip = fields.String(allow_none=True)
    user_agent_data = fields.String(attribute="user_agent", allow_none=True)
    unsubscribed_from_emails = fields.Boolean()
    relationship_score = fields.Integer()
    # When the team last messaged the user (manual messages, comments) and the user wrote.
    last_message_sent_at = fields.Integer(allow_none=True)
    last_message_received_at = fields.Integer(allow_none=True)
    custom_attributes = fields.Dict()
    location_data = fields.Method("location")
    companies = fields.Method("company_list")
    tags = fields.Method("tag_list")
    segments = fields.Method("segment_list")

    def location(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "location_data",
            "city_name": row.get("city"),
            "country_name": row.get("country"),
            "timezone": row.get("timezone"),
        }

    def tag_list(self, row: dict[str, Any]) -> dict[str, Any]:
        return tag_list(row)

    def segment_list(self, row: dict[str, Any]) -> dict[str, Any]:
        found = [
            {"type": "segment", "id": s["id"], "name": s["name"]} for s in row.get("segments", [])
        ]
        return {"type": "segment.list", "segments": found}

    def company_list(self, row: dict[str, Any]) -> dict[str, Any]:
        refs = CompanyRefSchema(many=True).dump(row.get("companies", []))
        return {"type": "company.list", "companies": refs}


class CompanySchema(Schema):
    type = fields.Constant("company")
    id = fields.String()
    app_id = fields.String()
    company_id = fields.String()
    name = fields.String(allow_none=True)
    plan = fields.Method("plan_object")
    monthly_spend = fields.Float(allow_none=True)
    remote_created_at = fields.Integer(allow_none=True)
    created_at = fields.Integer()
    updated_at = fields.Integer()
    user_count = fields.Integer()
    custom_attributes = fields.Dict()
    tags = fields.Function(tag_list)

    def plan_object(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if row.get("plan") is None:
            return None
        return {"type": "plan", "name": row["plan"]}
