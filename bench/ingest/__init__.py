"""Ingest benchmark on PostgreSQL: `make bench` (or `.venv/bin/python -m bench.ingest --quick`).

Measures, in a fresh schema that is dropped at the end:

1. Baseline A: a bare eventsourcing save loop (one new event per save).
2. Baseline B: single-row INSERT + COMMIT transactions with SQLAlchemy Core.
3. Snippet pings through the real server (`parley serve`, gunicorn) over keep-alive HTTP.
4. Projection lag while pinging at a fixed rate, as GET /health reports it.
5. Projection rebuild speed, in process, over a log of at least --rebuild-events events.

Each measurement is a module of this package; `run` runs them in turn.

Not a test: pytest never collects it (it lives outside tests/ and has no test_ functions).
"""
