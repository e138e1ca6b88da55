"""Sign-in attempts are limited per address and per client IP (a moving window, by the
`limits` library), in Redis when REDIS_URL is set, so that every web process counts together.

Each attempt is counted before its password is checked (the count and the check of the limit
are one step in the storage), so attempts sent side by side cannot slip past it; a successful
sign-in clears its address's count. An address under attack is refused for at most a minute
after the attacker stops: the price of the per-address limit the issue asks for.

An address gets 10 attempts a minute; an IP 30, as a whole office signs in from one address
in the morning (its successes count too: were they to clear it, an attacker with an account
of their own could reset the IP's count at will)."""

from __future__ import annotations

import math
import time

from limits import parse, storage, strategies

ATTEMPTS = parse("10/minute")  # per address
FROM_ONE_IP = parse("30/minute")


class SignInLimits:
    def __init__(self, redis_url: str | None) -> None:
        where = redis_url or "memory://"
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(where))

    def attempt(self, email: str, ip: str) -> int:
        """Count an attempt; the seconds to wait before another one (0: go ahead)."""
        keys = ((ATTEMPTS, "email", email), (FROM_ONE_IP, "ip", ip))
        refused = [
            (limit, kind, who)
            for limit, kind, who in keys
            if not self._limiter.hit(limit, "signin", kind, who)
        ]
        waits = [
            self._limiter.get_window_stats(limit, "signin", kind, who).reset_time - time.time()
            for limit, kind, who in refused
        ]
        return max((max(1, math.ceil(w)) for w in waits), default=0)

    def succeeded(self, email: str) -> None:
        self._limiter.clear(ATTEMPTS, "signin", "email", email)
