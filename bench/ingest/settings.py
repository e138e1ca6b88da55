"""What the ingest benchmark measures how much of: full and --quick sizes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
PING_HEADERS = {"Content-Type": "text/plain;charset=UTF-8"}
PAGE = "https://app.example.com/page"

# Target ratios and limits the summary checks.
PING_RATIO_TARGET = 0.50
LAG_P99_TARGET_MS = 1000.0
LAG_RATE_TOLERANCE = 0.95
REBUILD_TARGET = 20_000.0
LAG_CLIENTS = 32


# -- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    threads: int
    saves: int
    rows: int
    pings: int
    users: int
    lag_rate: float
    lag_seconds: float
    rebuild_events: int
    web_workers: int
    web_threads: int
    rounds: int


FULL = {
    "saves": 3000,
    "rows": 3000,
    "pings": 6000,
    "users": 2000,
    "lag_seconds": 10.0,
    "rebuild_events": 50_000,
}
QUICK = {
    "saves": 450,
    "rows": 450,
    "pings": 800,
    "users": 400,
    "lag_seconds": 4.0,
    "rebuild_events": 12_000,
}


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--threads", type=int, default=8, help="client and baseline threads")
    parser.add_argument("--saves", type=int, help="saves per bare-loop measurement")
    parser.add_argument("--rows", type=int, help="INSERT transactions per Core measurement")
    parser.add_argument("--pings", type=int, help="pings in the throughput measurement")
    parser.add_argument("--users", type=int, help="distinct users the pings spread over")
    parser.add_argument("--lag-rate", type=float, default=200.0, help="pings/s in the lag test")
    parser.add_argument("--lag-seconds", type=float, help="duration of the lag test")
    parser.add_argument("--rebuild-events", type=int, help="minimum log size for the rebuild")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help="baselines: report the median of this many rounds"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL

    def pick(name: str) -> Any:
        given = getattr(args, name)
        return preset[name] if given is None else given

    return Settings(
        threads=args.threads,
        saves=pick("saves"),
        rows=pick("rows"),
        pings=pick("pings"),
        users=pick("users"),
        lag_rate=args.lag_rate,
        lag_seconds=pick("lag_seconds"),
        rebuild_events=pick("rebuild_events"),
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        rounds=max(1, args.rounds),
    )
