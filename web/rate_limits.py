"""Rate limits, as Intercom 1.x had them: each app's REST calls per minute, and the
conversations one user may start from the widget (each one emails the team).

Counted by the `limits` library in fixed windows: in Redis when REDIS_URL is set, so every web
process counts together, in this process otherwise. Every authenticated REST answer says where
the app stands (`X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`: the Unix
time the window starts afresh); past the limit, `429` with `rate_limit_exceeded`, and nothing
of the refused call is done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from limits import RateLimitItemPerHour, RateLimitItemPerMinute, storage, strategies


@dataclass(frozen=True)
class Standing:
    """Where a caller stands after a call: allowed or not, its limit, what is left, when the
    window resets (Unix seconds)."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimits:
    def __init__(self, redis_url: str | None, per_minute: int, conversations_per_hour: int) -> None:
        where = redis_url or "memory://"
        self._limiter = strategies.FixedWindowRateLimiter(storage.storage_from_string(where))
        self._api = RateLimitItemPerMinute(per_minute)
        self._conversations = RateLimitItemPerHour(conversations_per_hour)

    def _hit(self, item: RateLimitItemPerMinute | RateLimitItemPerHour, *keys: str) -> Standing:
        allowed = self._limiter.hit(item, *keys)
        stats = self._limiter.get_window_stats(item, *keys)
        return Standing(allowed, item.amount, stats.remaining, math.ceil(stats.reset_time))

    def api_call(self, app_id: str) -> Standing:
        """Count one REST call of this app."""
        return self._hit(self._api, "api", app_id)

    def conversation(self, app_id: str, user_key: str) -> Standing:
        """Count one conversation this user starts from the widget."""
        return self._hit(self._conversations, "widget-conversations", app_id, user_key)
