"""How the dashboard writes what users sent: custom values with their type, exact moments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.values import is_date_key


def exact(seconds: int | None) -> str:
    """A moment to the minute (UTC), for a date's tooltip or a custom date."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%d %b %Y, %H:%M UTC")


def typed(key: str, value: Any) -> tuple[str, str]:
    """A custom value as it was sent (true/false as JSON writes them; keys ending in _at hold
    dates), with its type as the filter bar names it."""
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if value is None:
        return "—", "empty"
    if isinstance(value, int | float):
        if is_date_key(key):
            try:
                return exact(int(value)), "date"
            except (OverflowError, OSError, ValueError):
                return str(value), "number"
        return str(value), "number"
    return str(value), "text"
