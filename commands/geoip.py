"""City and country from an IP address, using a local MaxMind-format database (optional)."""

from __future__ import annotations

import ipaddress
from typing import Any

import maxminddb

Place = tuple[str | None, str | None]


def _english(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    names = node.get("names")
    if isinstance(names, dict) and isinstance(names.get("en"), str):
        return str(names["en"])
    return None


class Locator:
    """Looks IPs up in a GeoLite2/GeoIP2-City style database file."""

    def __init__(self, path: str) -> None:
        self._reader = maxminddb.open_database(path)

    def __call__(self, ip: str | None) -> Place:
        if not ip:
            return (None, None)
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return (None, None)
        if address.is_private or address.is_loopback:
            return (None, None)
        found = self._reader.get(str(address))
        if not isinstance(found, dict):
            return (None, None)
        return (_english(found.get("city")), _english(found.get("country")))

    def close(self) -> None:
        self._reader.close()
