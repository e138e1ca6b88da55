"""Tags as the projections hold them: by name, and who has one (to take it off them all)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from projections.tables import company_tags, tags, user_tags


def app_tags(conn: Connection, app_id: str) -> list[dict[str, str]]:
    """The app's tags by name: id and name."""
    query = select(tags.c.id, tags.c.name).where(tags.c.app_id == app_id).order_by(tags.c.name)
    return [{"id": r.id, "name": r.name} for r in conn.execute(query)]


def tags_held(
    conn: Connection, app_id: str, *, user: str | None = None, company: str | None = None
) -> list[dict[str, str]]:
    """The tags one user (Parley id) or one company (Parley id) has now, by name."""
    held, key, who = (
        (user_tags, user_tags.c.user_id, user)
        if user
        else (company_tags, company_tags.c.company_id, company)
    )
    query = (
        select(tags.c.id, tags.c.name)
        .join(held, held.c.tag_id == tags.c.id)
        .where(tags.c.app_id == app_id, key == who)
        .order_by(tags.c.name)
    )
    return [{"id": r.id, "name": r.name} for r in conn.execute(query)]


@dataclass(frozen=True)
class Holders:
    """A tag's name and every user and company that has it now."""

    name: str
    user_ids: list[str]
    company_ids: list[str]


def tag_holders(conn: Connection, app_id: str, tag_id: str) -> Holders | None:
    """None for a tag this app does not have (any more)."""
    name = conn.execute(
        select(tags.c.name).where(tags.c.id == tag_id, tags.c.app_id == app_id)
    ).scalar()
    if name is None:
        return None
    users = select(user_tags.c.user_id).where(user_tags.c.tag_id == tag_id)
    companies = select(company_tags.c.company_id).where(company_tags.c.tag_id == tag_id)
    return Holders(
        name, list(conn.execute(users).scalars()), list(conn.execute(companies).scalars())
    )
