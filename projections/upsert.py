"""Dialect-aware bulk upsert, so a replayed batch writes the same rows again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    if updates:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    # RETURNING lets SQLAlchemy send many rows per round trip ("insertmanyvalues").
    conn.execute(statement.returning(*table.primary_key.columns), list(rows))


def add_to_counts(conn: Connection, table: Table, column: str, changes: Counter[Any]) -> None:
    """Add each change onto a running count: `changes` maps the table's primary key (a tuple
    in its columns' order, or one value) to how much `column` goes up or down. In key order,
    so concurrent batches lock rows in the same order. A count brought down to 0 is deleted,
    so the rows are the same however the events were batched (a replay never writes it)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    keys = [c.name for c in table.primary_key.columns]
    for key, delta in sorted(changes.items()):
        if not delta:
            continue
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        statement = dialect.insert(table).values(**values, **{column: delta})
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={column: table.c[column] + delta}
        )
        conn.execute(statement)
        if delta < 0:
            match = [table.c[k] == v for k, v in values.items()]
            conn.execute(delete(table).where(*match, table.c[column] == 0))
