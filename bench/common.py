"""What the benchmarks share: reporting figures, a fresh PostgreSQL schema for each run, a free
port, and bulk loading with COPY."""

from __future__ import annotations

import csv
import io
import math
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

# -- reporting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None

    def shown(self) -> str:
        if self.unit == "%":
            return f"{self.value * 100:.1f} %"
        if self.unit == "ms":
            return f"{self.value:,.1f} ms"
        return f"{self.value:,.0f} {self.unit}"


def say(message: str = "") -> None:
    print(message, flush=True)


def section(title: str) -> None:
    say()
    say(f"== {title} ==")


def print_summary(figures: Sequence[Figure]) -> None:
    section("Summary")
    width = max(len(f.name) for f in figures)
    say(f"{'measure':<{width}}  {'value':>16}  {'target':>10}  result")
    say("-" * (width + 38))
    for f in figures:
        verdict = "" if f.passed is None else ("PASS" if f.passed else "MISS")
        say(f"{f.name:<{width}}  {f.shown():>16}  {f.target:>10}  {verdict}")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


# -- database ----------------------------------------------------------------------------


def server_url() -> str:
    configured = os.environ.get("DATABASE_URL", "")
    return configured if configured.startswith("postgresql") else DEFAULT_SERVER


def execute_once(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped afterwards."""
    schema = "bench_" + uuid.uuid4().hex[:12]
    execute_once(server, f"CREATE SCHEMA {schema}")
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        execute_once(server, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        say(f"dropped schema {schema}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def copy_rows(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows into a PostgreSQL table with COPY, 100,000 at a time."""
    columns = [c.name for c in table.columns]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for chunk in chunks(rows, 100_000):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in chunk:
                writer.writerow(["\\N" if row[c] is None else row[c] for c in columns])
            buffer.seek(0)
            names = ", ".join(columns)
            copy = f"COPY {table.name} ({names}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            cursor.copy_expert(copy, buffer)
        raw.commit()
    finally:
        raw.close()
