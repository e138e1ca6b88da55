"""How Parley reads the values customers send: timestamps, custom data, traffic sources."""

from __future__ import annotations

import math
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ua_parser import parse_user_agent

from domain.errors import InvalidValue

# Seconds since the epoch accepted as dates: 1970 up to 2100. Larger numbers are
# almost always milliseconds sent by mistake, which we refuse rather than misread.
LATEST_TIMESTAMP = 4_102_444_800
CUSTOM_KEY = re.compile(r"^[^.$\x00-\x1f]{1,190}$")
MAX_STRING = 255
MAX_FLOAT = sys.float_info.max

CustomValue = str | int | float | bool | None


def parse_timestamp(field: str, value: Any) -> int:
    """A Unix timestamp or an ISO 8601 string, as whole seconds since the epoch (UTC)."""
    if isinstance(value, bool) or value is None:
        raise InvalidValue(field, "expected a Unix timestamp or an ISO 8601 date")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidValue(field, "expected a Unix timestamp or an ISO 8601 date")
        return _checked_seconds(field, int(value))
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return _checked_seconds(field, int(float(text)))
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise InvalidValue(
                field, f"{value!r} is neither a Unix timestamp nor an ISO 8601 date"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _checked_seconds(field, int(parsed.timestamp()))
    raise InvalidValue(field, "expected a Unix timestamp or an ISO 8601 date")


def _checked_seconds(field: str, seconds: int) -> int:
    if seconds < 0:
        raise InvalidValue(field, "dates before 1970 are not accepted")
    if seconds > LATEST_TIMESTAMP:
        raise InvalidValue(
            field, "timestamp is after the year 2100; send seconds, not milliseconds"
        )
    return seconds


def is_date_key(key: str) -> bool:
    """Custom data keys ending in `_at` hold dates (seed: "Special treatment of dates")."""
    return key.endswith("_at")


def custom_value(field: str, key: str, value: Any) -> CustomValue:
    """Check one custom attribute: strings, numbers, booleans, nil; `_at` keys are dates."""
    if not CUSTOM_KEY.match(key):
        raise InvalidValue(
            field, f"{key!r} is not a valid attribute name (1-190 characters, no '.' or '$')"
        )
    where = f"{field}.{key}"
    if value is None:
        return None
    if is_date_key(key):
        return parse_timestamp(where, value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue(where, "numbers must be finite")
        if isinstance(value, int) and abs(value) > MAX_FLOAT:
            raise InvalidValue(where, "numbers must fit in a 64-bit float")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise InvalidValue(where, f"strings are limited to {MAX_STRING} characters")
        if "\x00" in value:
            raise InvalidValue(where, "strings cannot contain NUL characters")
        return value
    raise InvalidValue(
        where, "custom data values must be strings, numbers, booleans or null, not lists or objects"
    )


def custom_data(field: str, values: dict[str, Any]) -> dict[str, CustomValue]:
    """Check a whole dictionary of custom attributes."""
    return {key: custom_value(field, key, value) for key, value in values.items()}


def changes(
    holder: Any,
    attributes: dict[str, Any],
    custom_now: dict[str, CustomValue],
    custom: dict[str, CustomValue],
) -> tuple[dict[str, Any], dict[str, CustomValue]] | None:
    """What really differs from `holder`'s attributes and custom data; None if nothing does.

    Aggregates record only changes, so repeated pings with the same data write nothing.
    """
    changed = {k: v for k, v in attributes.items() if getattr(holder, k) != v}
    changed_custom = {k: v for k, v in custom.items() if k not in custom_now or custom_now[k] != v}
    return (changed, changed_custom) if changed or changed_custom else None


def attribute_type(key: str, value: CustomValue) -> str:
    """The filter type of a custom attribute: date, boolean, number, string or unknown."""
    if value is None:
        return "unknown"
    if is_date_key(key):
        return "date"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def traffic_source(url: str | None, referrer: str | None) -> str | None:
    """Where a visit came from: utm_source, else an external referrer's domain.

    None means the page view carries no traffic source of its own (direct or internal).
    """
    page = urlsplit(url or "")
    utm = parse_qs(page.query).get("utm_source")
    if utm and utm[0].strip():
        return "utm:" + utm[0].strip().lower()
    ref_host = (urlsplit(referrer or "").hostname or "").lower()
    if ref_host and ref_host != (page.hostname or "").lower():
        return ref_host
    return None


def browser(user_agent: str) -> str | None:
    """The browser family a user agent names ("Chrome", "Firefox", "Mobile Safari")."""
    found = parse_user_agent(user_agent)
    if found is None or found.family == "Other":
        return None
    return found.family
