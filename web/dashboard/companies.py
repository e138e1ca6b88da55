"""The companies (seed: "Companies"): the list, filtered by name, plan, monthly spend and tag
with a plain GET form (everything in the URL, so a list can be bookmarked), sorted by a
column, in keyset pages with the exact total; and a company's page with its attributes,
custom data, tags and users."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import ColumnElement

from domain.errors import InvalidValue
from domain.filters import parse_condition
from queries.audience.catalogue import company_custom_keys
from queries.audience.sql import company_condition
from queries.companies import (
    COMPANY_SORTS,
    CompanyFilter,
    CompanyListing,
    company_members,
    company_tag_choices,
    find_company,
    plans,
    search_companies,
)
from queries.users import Cursor
from web.context import services
from web.dashboard.account import teammate_of
from web.dashboard.blueprint import dashboard
from web.dashboard.shown import exact, typed
from web.dashboard.users import when
from web.errors import flatten

PER_PAGE = 50
MEMBERS_SHOWN = 50
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="cannot contain NUL characters")
COMPANY_KEY = re.compile(r"[0-9a-f]{32}")


class CompanyListArgs(Schema):
    """What the list's URL may say (anything else, utm_source and the like, is left alone)."""

    name = fields.String(validate=validate.And(validate.Length(max=255), NO_NUL))
    plan = fields.String(validate=validate.And(validate.Length(max=255), NO_NUL))
    min_spend = fields.Float(allow_nan=False)
    max_spend = fields.Float(allow_nan=False)
    tag = fields.String(validate=validate.And(validate.Length(max=64), NO_NUL))
    custom_key = fields.String(validate=validate.And(validate.Length(max=190), NO_NUL))
    custom_value = fields.String(validate=validate.And(validate.Length(max=255), NO_NUL))
    sort = fields.String(load_default="created_at", validate=validate.OneOf(COMPANY_SORTS))
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))
    after = fields.String(validate=validate.Length(max=1000))

    @validates_schema
    def spend_range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        low, high = data.get("min_spend"), data.get("max_spend")
        if low is not None and high is not None and low > high:
            raise ValidationError(f"is below “at least” ({low:g})", "max_spend")


LIST = CompanyListArgs()
LIST_ARGS = tuple(LIST.fields)
FILTER_ARGS = ("name", "plan", "min_spend", "max_spend", "tag", "custom_key")
# How a problem names the field: as the form labels it.
LABELS = {
    "name": "Name starts with",
    "plan": "Plan",
    "min_spend": "Monthly spend at least",
    "max_spend": "Monthly spend at most",
    "tag": "Tag",
    "custom_key": "Custom data",
    "custom_value": "Custom value",
    "sort": "Sort",
    "order": "Order",
    "after": "Page",
}
# The table's columns: key, heading, the sort it offers (None: not sortable), numeric.
COLUMNS = [
    ("name", "Name", "name", False),
    ("company_id", "Company ID", None, False),
    ("plan", "Plan", None, False),
    ("monthly_spend", "Monthly spend", "monthly_spend", True),
    ("user_count", "Users", "user_count", True),
    ("remote_created_at", "Created", "remote_created_at", False),
    ("created_at", "Added", "created_at", False),
    ("last_seen_at", "Last seen", None, False),
    ("tags", "Tags", None, False),
]
ASCENDING_FIRST = {"name"}  # A to Z first; the others largest or newest first


def money(value: float | None) -> str:
    """Monthly spend as a teammate reads it: 1,250 or 25.50 (in the app's own currency)."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _explained(messages: Any) -> str:
    found = flatten(messages)
    return "; ".join(f"{LABELS.get(f, f)}: {reason.rstrip('.')}" for f, reason in found)


def _filter_of(
    args: dict[str, Any], keys: list[dict[str, str]], dialect: str, now: datetime
) -> CompanyFilter:
    return CompanyFilter(
        name=args.get("name"),
        plan=args.get("plan"),
        min_spend=args.get("min_spend"),
        max_spend=args.get("max_spend"),
        tag_id=args.get("tag"),
        custom=_custom_condition(args, keys, dialect, now),
    )


def _custom_condition(
    args: dict[str, Any], keys: list[dict[str, str]], dialect: str, now: datetime
) -> ColumnElement[bool] | None:
    """ "Custom data KEY is VALUE" (a number equals it, true/false for a yes/no), in the
    filter language of domain/filters.py; no value: the key is known."""
    if "custom_key" not in args:
        return None
    path = f"company.custom.{args['custom_key']}"
    kinds = {k["path"]: k["kind"] for k in keys}
    if path not in kinds:
        raise ValidationError({"custom_key": ["no company has this custom attribute"]})
    given = args.get("custom_value")
    kind = kinds[path]
    condition: dict[str, Any] = {"attribute": path, "operator": "known"}
    if given is not None and kind == "number":
        try:
            condition = {"attribute": path, "operator": "eq", "value": float(given)}
        except ValueError:
            raise ValidationError({"custom_value": [f"{given!r} is not a number"]}) from None
    elif given is not None and kind == "boolean":
        if given.lower() not in ("true", "false"):
            raise ValidationError({"custom_value": ["write true or false"]})
        condition = {"attribute": path, "operator": "is", "value": given.lower() == "true"}
    elif given is not None and kind == "date":
        raise ValidationError(
            {"custom_value": ["filter dates in the user list's filter bar; here: known only"]}
        )
    elif given is not None:
        condition = {"attribute": path, "operator": "is", "value": given}
    try:
        parsed = parse_condition(condition, "custom_value")
    except InvalidValue as invalid:
        raise ValidationError({"custom_value": [invalid.reason]}) from None
    return company_condition(parsed, dialect, now)


@dashboard.get("/apps/<app_id>/companies")
def company_list(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    asked = {k: v.strip() for k, v in request.args.items() if k in LIST_ARGS and v.strip()}
    problem, found, args = None, None, {}
    with s.engine.connect() as conn:
        tag_choices = company_tag_choices(conn, app_id)
        plan_choices = plans(conn, app_id)
        custom_keys = company_custom_keys(conn, app_id)
        try:
            args = LIST.load(asked)
            if "tag" in args and args["tag"] not in {t["id"] for t in tag_choices}:
                raise ValidationError({"tag": ["no company has this tag (any more)"]})
            after = Cursor.decode(args["after"]) if "after" in args else None
            wanted = _filter_of(args, custom_keys, conn.dialect.name, now)
            found = search_companies(
                conn, app_id, wanted, args["sort"], args["order"], PER_PAGE, after
            )
        except ValidationError as error:
            problem = _explained(error.messages)
        except InvalidValue as invalid:  # a cursor that was edited or cut
            problem = f"{LABELS.get(invalid.field, invalid.field)}: {invalid.reason.rstrip('.')}"
    sort, order = args.get("sort", "created_at"), args.get("order", "desc")
    page = render_template(
        "dashboard/companies.html",
        who=who,
        found=found,
        problem=problem,
        asked=asked,
        filtered=any(k in asked for k in FILTER_ARGS),
        columns=COLUMNS,
        sort=sort,
        order=order,
        tag_choices=tag_choices,
        plan_choices=plan_choices,
        custom_keys=custom_keys,
        sort_url=lambda column: _sort_url(app_id, column, sort, order),
        first_url=url_for("dashboard.company_list", app_id=app_id, **_kept(exclude="after")),
        next_url=_next_url(app_id, found),
        money=money,
        exact=exact,
        when=lambda seconds: when(seconds, now),
    )
    return page, 400 if problem else 200


def _kept(exclude: str | tuple[str, ...]) -> dict[str, Any]:
    """The list's arguments in this URL, but those named."""
    return {k: v for k, v in request.args.items() if k in LIST_ARGS and k not in exclude}


def _sort_url(app_id: str, column: str, sort: str, order: str) -> str:
    """The list sorted by this column; again on the sorted column, the other way round."""
    if column == sort:
        turned = "asc" if order == "desc" else "desc"
    else:
        turned = "asc" if column in ASCENDING_FIRST else "desc"
    kept = _kept(exclude=("after", "sort", "order"))
    return url_for("dashboard.company_list", app_id=app_id, **kept, sort=column, order=turned)


def _next_url(app_id: str, found: CompanyListing | None) -> str | None:
    if found is None or found.next is None:
        return None
    kept = _kept(exclude="after")
    return url_for("dashboard.company_list", app_id=app_id, **kept, after=found.next.encode())


# -- one company -------------------------------------------------------------------------


@dashboard.get("/apps/<app_id>/companies/show")
def company_deep_link(app_id: str) -> ResponseReturnValue:
    """A company by the customer's own company_id, for links from their tools."""
    teammate_of(app_id)
    company_id = request.args.get("company_id", "")
    if not company_id or "\x00" in company_id or len(company_id) > 255:
        abort(404)
    with services().engine.connect() as conn:
        row = find_company(conn, app_id, company_id=company_id)
    if row is None:
        abort(404)
    return redirect(url_for("dashboard.company", app_id=app_id, company_key=row["id"]))


@dashboard.get("/apps/<app_id>/companies/<company_key>")
def company(app_id: str, company_key: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    if not COMPANY_KEY.fullmatch(company_key):
        abort(404)
    s = services()
    now = s.clock.now()
    with s.engine.connect() as conn:
        row = find_company(conn, app_id, id=company_key)
        if row is None:
            abort(404)
        members = company_members(conn, app_id, company_key, MEMBERS_SHOWN)
    custom = sorted((row.get("custom_attributes") or {}).items())
    audience = {"attribute": "company.company_id", "operator": "is", "value": row["company_id"]}
    return render_template(
        "dashboard/company.html",
        who=who,
        company=row,
        custom=[(key, *typed(key, value)) for key, value in custom],
        members=members,
        users_url=url_for(
            "dashboard.user_list", app_id=app_id, filter=json.dumps(audience, ensure_ascii=False)
        ),
        last_seen=max((m["last_seen_at"] for m in members if m["last_seen_at"]), default=None),
        money=money,
        exact=exact,
        when=lambda seconds: when(seconds, now),
    )
