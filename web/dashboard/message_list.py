"""The app's messages (`/apps/<app_id>/messages`), newest first: each by its subject or first
words, its type, who it is for, its author and state, and what it achieved: the counts of the
stats projection, with rates (of emails sent, or of in-app copies shown)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from queries.message_list import app_messages
from web.context import services
from web.dashboard.account import Teammate, teammate_of
from web.dashboard.audience_words import Names, audience_words, named, names_of
from web.dashboard.blueprint import dashboard
from web.dashboard.users import when

PER_PAGE = 30
KINDS = ("manual", "auto")
EMAIL_STATS = ("sent", "opened", "clicked", "replied", "unsubscribed")
IN_APP_STATS = ("delivered", "viewed", "clicked", "replied")
COLUMNS = ("sent", "delivered", "viewed", "opened", "clicked", "replied", "unsubscribed")


def listed_state(row: dict[str, Any], now: datetime) -> str:
    """Live, stopped, sent (a manual email: it went out when written) or ended (its stop
    date passed), as the message page says it."""
    if row["stopped_at"] is not None:
        return "stopped"
    if row["message_type"] == "email" and row["kind"] == "manual":
        return "sent"
    if row["stop_at"] is not None and row["stop_at"] <= int(now.timestamp()):
        return "ended"
    return "live"


def stat_cells(message_type: str, stats: dict[str, int]) -> list[tuple[str, int | None, str]]:
    """(column, count or None where it does not apply, rate) in the list's column order."""
    email = message_type == "email"
    applies = EMAIL_STATS if email else IN_APP_STATS
    base = stats["sent" if email else "delivered"]
    cells: list[tuple[str, int | None, str]] = []
    for name in COLUMNS:
        if name not in applies:
            cells.append((name, None, ""))
            continue
        count = stats.get(name, 0)
        first = name in ("sent", "delivered")
        rate = "" if first or not base else f"{100 * count / base:.0f}%"
        cells.append((name, count, rate))
    return cells


def _before(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    at, _, key = text.partition("-")
    if not at.isdigit() or len(key) != 32:
        abort(404)
    return int(at), key


@dashboard.get("/apps/<app_id>/messages")
def message_list(app_id: str) -> ResponseReturnValue:
    who = teammate_of(app_id)
    s = services()
    now = s.clock.now()
    with s.engine.connect() as conn:
        kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
        before = _before(request.args.get("before"))
        page = app_messages(conn, app_id, PER_PAGE, before, kind)
        names = names_of(conn, app_id)
        lone = [r["first_recipient"] for r in page.items if r["chosen"] == 1]
        people = named(conn, [k for k in lone if k])
        rows = [_row(conn, who, r, names, people, now) for r in page.items]
    following = None
    if page.next is not None:
        at, key = page.next
        following = url_for(
            "dashboard.message_list", app_id=app_id, kind=kind, before=f"{at}-{key}"
        )
    return render_template(
        "dashboard/message_list.html",
        who=who,
        rows=rows,
        next_url=following,
        first_page=request.args.get("before") is None,
        kind=kind,
    )


def _row(
    conn: Any,
    who: Teammate,
    r: dict[str, Any],
    names: Names,
    people: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    author = who.app.teammate(r["admin_id"]) if r["admin_id"] else None
    return {
        **r,
        "audience_words": audience_words(conn, who.app.app_id, r, names, people),
        "author": author["name"] if author else "a former teammate",
        "state": listed_state(r, now),
        "cells": stat_cells(r["message_type"], r["stats"]),
        "when": when(r["created_at"], now),
    }
