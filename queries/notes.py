"""Notes on users, as the REST API and the profile show them: newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from projections.tables import notes
from queries.users import Page

Row = dict[str, Any]
COLUMNS = (notes.c.id, notes.c.user_id, notes.c.admin_id, notes.c.body, notes.c.created_at)


def notes_of(
    conn: Connection, app_id: str, user_key: str, page: int = 1, per_page: int = 50
) -> Page:
    """One page of the notes on this user of the app, newest first."""
    where = (notes.c.user_id == user_key, notes.c.app_id == app_id)
    total = conn.execute(select(func.count()).select_from(notes).where(*where)).scalar_one()
    rows = conn.execute(
        select(*COLUMNS)
        .where(*where)
        .order_by(notes.c.created_at.desc(), notes.c.recorded.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return Page([dict(r) for r in rows], total, page, per_page)


def find_note(conn: Connection, app_id: str, note_id: str) -> Row | None:
    """The app's note with this id (None: no such note, or another app's)."""
    query = select(*COLUMNS).where(notes.c.id == note_id, notes.c.app_id == app_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None
