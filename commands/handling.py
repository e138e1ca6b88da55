"""Running a command: one handler makes one attempt, `handle` repeats it on a conflict.

A handler is `handler(cmd, store, clock, ...)`: it loads the aggregates it needs, calls the
domain, saves the aggregates in one atomic append and returns what the caller shows. When a
concurrent writer appended to one of them first, the append fails as a whole and wrote
nothing, so `handle` runs the handler again on fresh state: the command is neither lost nor
doubled. Nothing else in Parley retries on a version conflict.

A few commands are several transactions by nature (tagging thousands of users a chunk at a
time, sending one email: claim, send, record); they are plain functions that `handle` each
of their steps and are called directly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from eventsourcing.persistence import IntegrityError

from commands.clock import Clock
from commands.store import Parley

C = TypeVar("C")
T = TypeVar("T")
P = ParamSpec("P")

BUDGET = 15.0  # seconds of conflicting attempts before a command is given up


class ConcurrencyExhausted(Exception):
    """A command kept colliding with concurrent writers and was given up."""


def handle(
    handler: Callable[Concatenate[C, Parley, Clock, P], T],
    cmd: C,
    store: Parley,
    clock: Clock,
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run the handler on the command; again, after a short random wait, while a concurrent
    writer got there first. Waits grow exponentially with full jitter (capped at 50 ms) so
    that many writers of one aggregate all get through."""
    deadline = time.monotonic() + BUDGET
    tries = 0
    while True:
        try:
            return handler(cmd, store, clock, *args, **kwargs)
        except IntegrityError:
            tries += 1
            if time.monotonic() >= deadline:
                raise ConcurrencyExhausted(
                    f"gave up after {tries} conflicting attempts in {BUDGET:.0f} s"
                ) from None
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** min(tries, 6))))
