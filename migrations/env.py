"""Alembic environment: the URL comes from Parley's configuration, never from a file."""

from __future__ import annotations

from alembic import context

from projections.db import make_engine
from projections.tables import metadata

config = context.config
engine = make_engine(config.attributes["database_url"])

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
