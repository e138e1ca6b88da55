"""Failed sign-ins are limited per address and per client IP (a moving window, by the `limits`
library): in Redis when REDIS_URL is set, so that every web process counts together."""

from __future__ import annotations

import math
import time

from limits import parse, storage, strategies

FAILURES = parse("10/minute")


class SignInLimits:
    def __init__(self, redis_url: str | None) -> None:
        where = redis_url or "memory://"
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(where))

    def wait(self, email: str, ip: str) -> int:
        """Seconds before another try from this address or IP (0: go ahead)."""
        waits = [
            self._limiter.get_window_stats(FAILURES, "signin", kind, key).reset_time - time.time()
            for kind, key in (("email", email), ("ip", ip))
            if not self._limiter.test(FAILURES, "signin", kind, key)
        ]
        return max((max(1, math.ceil(w)) for w in waits), default=0)

    def failed(self, email: str, ip: str) -> None:
        self._limiter.hit(FAILURES, "signin", "email", email)
        self._limiter.hit(FAILURES, "signin", "ip", ip)
