"""Replaying the log in several processes at once, each for its own share of aggregates.

Decoding and applying events is Python work bound to one core per process; projections
whose rows each belong to one aggregate can be filled by several processes side by side.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.queues import Queue
from typing import Any

from sqlalchemy import Engine

from projections.db import make_engine
from projections.log import EventStore, Log
from projections.replay import shadow_tables, windows
from projections.runner import Projection


def fill_in_parallel(
    open_store: Callable[[str], EventStore],
    engine: Engine,
    projection: Projection,
    head: int,
    processes: int,
    progress: Callable[[int], None],
) -> int:
    """Fill the projection's rebuild tables up to `head`; return `head` once all are done."""
    # fork: children start at once with the code loaded and open no inherited connection.
    context = multiprocessing.get_context("fork")
    reports: Queue[tuple[str, int, Any]] = context.Queue()
    url = engine.url.render_as_string(hide_password=False)
    children = [
        context.Process(
            target=_fill_share,
            args=(open_store, url, type(projection), k, processes, head, reports),
        )
        for k in range(processes)
    ]
    for child in children:
        child.start()
    reached = [0] * processes
    shown = 0
    failed = True
    try:
        while sum(1 for r in reached if r >= head) < processes:
            kind, share, value = reports.get(timeout=600)
            if kind == "error":
                raise RuntimeError(f"rebuild process {share} failed: {value}")
            reached[share] = value
            if min(reached) > shown:
                progress(min(reached) - shown)
                shown = min(reached)
        failed = False
    finally:
        for child in children:
            if failed and child.is_alive():
                child.terminate()
            child.join()
    return head


def _fill_share(
    open_store: Callable[[str], EventStore],
    url: str,
    projection_class: type[Projection],
    share: int,
    shares: int,
    head: int,
    reports: Queue[tuple[str, int, Any]],
) -> None:
    store = open_store(url)
    engine = make_engine(url, writer=True)
    projection = projection_class()
    shadows = shadow_tables(projection)
    try:
        for events, reached in windows(Log(store), projection, 0, head, (share, shares)):
            with engine.begin() as conn:
                projection.apply(conn, events, shadows)
            reports.put(("progress", share, reached))
        reports.put(("progress", share, head))
    except BaseException as error:
        reports.put(("error", share, repr(error)))
    finally:
        engine.dispose()
        store.close()
