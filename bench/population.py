"""The audience benchmark's population: users with varied standard attributes, custom data,
companies, tags, tracked events and message times, made with a fixed seed and written
straight into the projection tables; and the realistic filters timed over them."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, text

from bench.common import (
    chunks,
    copy_rows,
)
from projections.tables import (
    companies,
    segments,
    tags,
    user_companies,
    user_events,
    user_tags,
    users,
)

APP = "benchapp"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
DAY = 86_400
P95_TARGET_MS = 100.0
SQLITE_FACTOR = 3.0
CHANGED = 1_000  # users changed through commands after the index is built
PLANS = ["free", "free", "free", "pro", "pro", "team", "enterprise"]
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "acme.io", "globex.com", "initech.net"]
FIRST = ["Ann", "Bob", "Cyd", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou"]
CITIES = [("Paris", "France"), ("Berlin", "Germany"), ("Dublin", "Ireland"), ("Austin", "USA")]
BROWSERS = ["Chrome", "Chrome", "Firefox", "Safari", "Mobile Safari", "Edge"]
TAGS = ["PDF", "VIP", "Beta", "Churn risk", "Partner"]
EVENTS = ["invited-teammate", "exported-pdf", "created-project"]


def cond(attribute: str, operator: str, value: Any = None) -> dict[str, Any]:
    found = {"attribute": attribute, "operator": operator}
    return found if value is None else {**found, "value": value}


def filters(tag_ids: dict[str, str], segment_ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What teams ask for (seed: re-engage older users, message high-value users, …)."""
    return {
        "everyone, newest first": {"all": []},
        "inactive: last seen > 30 days ago": cond("last_seen_at", "more_than_days_ago", 30),
        "loyal: > 100 sessions, signed up > 1 year ago": {
            "all": [
                cond("session_count", "gt", 100),
                cond("signed_up_at", "more_than_days_ago", 365),
            ]
        },
        "pro plan seen this week": {
            "all": [
                cond("custom.plan", "is", "pro"),
                cond("last_seen_at", "less_than_days_ago", 7),
            ]
        },
        "high value: company spend > 900": cond("company.monthly_spend", "gt", 900),
        "custom number: seats >= 40": cond("custom.seats", "gte", 40),
        "email ends with acme.io": cond("email", "ends_with", "@acme.io"),
        "name contains 'an'": cond("name", "contains", "an"),
        "tagged VIP": cond("tag", "is", tag_ids["VIP"]),
        "in segment 'Slipping away'": cond("segment", "is", segment_ids["Slipping away"]),
        "invited a teammate >= 3 times": cond("event.invited-teammate.count", "gte", 3),
        "relationship >= 50": cond("relationship_score", "gte", 50),
        "French Firefox users, unsubscribed excluded": {
            "all": [
                cond("country", "is", "France"),
                cond("browser", "is", "Firefox"),
                cond("unsubscribed_from_emails", "is", False),
            ]
        },
    }


# -- building the population --------------------------------------------------------------


@dataclass
class Population:
    users: list[dict[str, Any]]
    companies: list[dict[str, Any]]
    memberships: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    tagged: list[dict[str, Any]]
    events: list[dict[str, Any]]
    segments: list[dict[str, Any]]


def _maybe(rng: random.Random, chance: float, value: Any) -> Any:
    return value if rng.random() < chance else None


def build_population(size: int, seed: int = 7) -> Population:
    rng = random.Random(seed)
    company_count = max(10, size // 20)
    company_rows = [
        {
            "id": uuid.uuid4().hex,
            "app_id": APP,
            "company_id": f"co{n}",
            "name": f"Company {n}",
            "plan": rng.choice(PLANS),
            "monthly_spend": round(rng.expovariate(1 / 200), 2),
            "remote_created_at": NOW_S - rng.randrange(2000) * DAY,
            "created_at": NOW_S - rng.randrange(1000) * DAY,
            "updated_at": NOW_S,
            "custom_attributes": json.dumps({"employees": rng.randrange(1, 5000)}),
        }
        for n in range(company_count)
    ]
    tag_rows = [
        {"id": uuid.uuid4().hex, "app_id": APP, "name": name, "created_at": NOW_S} for name in TAGS
    ]
    user_rows, memberships, tagged, events = [], [], [], []
    for n in range(size):
        key = uuid.uuid4().hex
        first = rng.choice(FIRST)
        city, country = rng.choice(CITIES)
        seen = NOW_S - int(rng.expovariate(1 / 20) * DAY)
        custom = {
            "plan": rng.choice(PLANS),
            "seats": rng.randrange(1, 60),
            "paid": rng.random() < 0.4,
            "trial_ends_at": NOW_S + rng.randrange(-100, 30) * DAY,
        }
        if rng.random() < 0.3:
            custom["referral_code"] = f"R{rng.randrange(10_000)}"
        user_rows.append(
            {
                "id": key,
                "app_id": APP,
                "user_id": f"u{n}",
                "email": f"{first.lower()}{n}@{rng.choice(DOMAINS)}",
                "name": f"{first} {n}",
                "signed_up_at": NOW_S - rng.randrange(1500) * DAY,
                "created_at": NOW_S - rng.randrange(1500) * DAY,
                "updated_at": NOW_S,
                "last_seen_at": seen,
                "last_request_at": _maybe(rng, 0.2, seen),
                "session_count": int(rng.lognormvariate(2.5, 1.2)),
                "session_source": None,
                "impressions": rng.randrange(1, 2000),
                "last_url": f"https://app.example.com/p/{rng.randrange(100)}",
                "last_seen_ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "user_agent": "Mozilla/5.0",
                "browser": rng.choice(BROWSERS),
                "timezone": "Europe/Paris",
                "city": city,
                "country": country,
                "unsubscribed_by_snippet": None,
                "unsubscribed_manually": rng.random() < 0.05,
                "unsubscribed_from_emails": rng.random() < 0.05,
                "custom_attributes": json.dumps(custom),
                "last_message_sent_at": _maybe(rng, 0.1, NOW_S - rng.randrange(400) * DAY),
                "last_message_received_at": _maybe(rng, 0.05, NOW_S - rng.randrange(400) * DAY),
            }
        )
        for company in rng.sample(range(company_count), rng.choice([0, 1, 1, 1, 2])):
            memberships.append(
                {"user_id": key, "company_id": company_rows[company]["id"], "app_id": APP}
            )
        if rng.random() < 0.1:
            tagged.append({"user_id": key, "tag_id": rng.choice(tag_rows)["id"], "app_id": APP})
        for name in EVENTS:
            if rng.random() < 0.3:
                first_at = NOW_S - rng.randrange(300) * DAY
                events.append(
                    {
                        "user_id": key,
                        "name": name,
                        "app_id": APP,
                        "count": rng.randrange(1, 12),
                        "first_at": first_at,
                        "last_at": first_at + rng.randrange(30) * DAY,
                    }
                )
    slipping = {
        "all": [
            cond("last_seen_at", "more_than_days_ago", 30),
            cond("custom.plan", "is", "pro"),
        ]
    }
    segment_rows = [
        {
            "id": uuid.uuid4().hex,
            "app_id": APP,
            "name": "Slipping away",
            "definition": json.dumps(slipping),
            "created_at": NOW_S,
            "updated_at": NOW_S,
        }
    ]
    return Population(user_rows, company_rows, memberships, tag_rows, tagged, events, segment_rows)


def load(engine: Engine, population: Population) -> None:
    """COPY on PostgreSQL (seconds for a million rows), batched INSERTs on SQLite."""
    parts: list[tuple[Table, list[dict[str, Any]]]] = [
        (companies, population.companies),
        (users, population.users),
        (user_companies, population.memberships),
        (tags, population.tags),
        (user_tags, population.tagged),
        (user_events, population.events),
        (segments, population.segments),
    ]
    for table, rows in parts:
        if engine.dialect.name == "postgresql":
            copy_rows(engine, table, rows)
        else:
            with engine.begin() as conn:
                for chunk in chunks(rows, 20_000):
                    conn.execute(table.insert(), _decoded(table, chunk))
    with engine.begin() as conn:  # what the users projection keeps as users arrive
        conn.execute(
            text(
                "INSERT INTO app_user_counts (app_id, users) "
                "SELECT app_id, count(*) FROM users GROUP BY app_id"
            )
        )
        conn.execute(text("ANALYZE"))


def _decoded(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    json_columns = [c for c in ("custom_attributes", "definition") if c in table.c]
    return [{**r, **{c: json.loads(r[c]) for c in json_columns}} for r in rows]
