"""Subscribing to webhooks, and the check that keeps them off the server's own network.

A webhook URL must be http(s) and every address its host resolves to must be a public one:
no loopback, link-local (cloud metadata at 169.254.169.254), private, shared, multicast or
reserved address, unless WEBHOOK_ALLOW_PRIVATE=1 (a receiver on the same machine, as in the
tests). The sender checks again before each delivery (workers/webhooks.py), so a name that
later resolves to such an address gets nothing either, and redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from commands.clock import Clock
from commands.errors import CommandError
from commands.store import Parley
from domain.errors import InvalidValue
from domain.webhooks import TOPICS, Webhooks, webhooks_key

MAX_SUBSCRIPTIONS = 20  # per app


class SubscriptionNotFound(CommandError):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"no subscription {subscription_id!r}")


def resolved_addresses(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in found})


def refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """The URL, or InvalidValue(`url`) saying why Parley will not send there."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue("url", "must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InvalidValue("url", "must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidValue("url", "has an invalid port") from None
    addresses = resolved_addresses(parts.hostname, port)
    if not addresses:
        raise InvalidValue("url", f"its host {parts.hostname!r} does not resolve")
    if not allow_private:
        inside = [a for a in addresses if refused_address(a)]
        if inside:
            raise InvalidValue(
                "url",
                f"resolves to {inside[0]}, a loopback, link-local or private address "
                "(set WEBHOOK_ALLOW_PRIVATE=1 to allow it)",
            )
    return url.strip()


@dataclass(frozen=True)
class Subscribe:
    app_id: str
    url: str
    topics: list[str]
    hub_secret: str | None
    allow_private: bool = False


@dataclass(frozen=True)
class Subscribed:
    subscription: dict[str, object]
    position: int


def app_webhooks(store: Parley, app_id: str) -> Webhooks:
    return store.get_as(Webhooks, webhooks_key(app_id)) or Webhooks(app_id=app_id)


def subscribe(cmd: Subscribe, store: Parley, clock: Clock) -> Subscribed:
    unknown = [t for t in cmd.topics if t not in TOPICS]
    if unknown:
        raise InvalidValue("topics", f"unknown topic {unknown[0]!r}")
    if not cmd.topics:
        raise InvalidValue("topics", "name at least one topic")
    url = check_url(cmd.url, cmd.allow_private)
    hooks = app_webhooks(store, cmd.app_id)
    if len(hooks.subscriptions) >= MAX_SUBSCRIPTIONS:
        raise InvalidValue("url", f"an app has at most {MAX_SUBSCRIPTIONS} subscriptions")
    topics = list(dict.fromkeys(cmd.topics))
    subscription_id = hooks.subscribe(url, topics, cmd.hub_secret, clock.now())
    position = store.save_all(hooks)
    return Subscribed(hooks.subscriptions[subscription_id], position)


def live_subscription(store: Parley, app_id: str, subscription_id: str) -> dict[str, object]:
    hooks = store.get_as(Webhooks, webhooks_key(app_id))
    if hooks is None or subscription_id not in hooks.subscriptions:
        raise SubscriptionNotFound(subscription_id)
    return hooks.subscriptions[subscription_id]


@dataclass(frozen=True)
class ChangeSubscription:
    app_id: str
    subscription_id: str
    change: str  # "unsubscribe", "pause" or "resume"
    reason: str = ""


def change_subscription(cmd: ChangeSubscription, store: Parley, clock: Clock) -> int:
    live_subscription(store, cmd.app_id, cmd.subscription_id)
    hooks = app_webhooks(store, cmd.app_id)
    if cmd.change == "unsubscribe":
        hooks.unsubscribe(cmd.subscription_id, clock.now())
    elif cmd.change == "pause":
        if not hooks.subscriptions[cmd.subscription_id]["active"]:
            return 0
        hooks.pause(cmd.subscription_id, cmd.reason, clock.now())
    elif cmd.change == "resume":
        if hooks.subscriptions[cmd.subscription_id]["active"]:
            return 0
        hooks.resume(cmd.subscription_id, clock.now())
    return store.save_all(hooks)
