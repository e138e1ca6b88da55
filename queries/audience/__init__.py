"""Who a filter matches, three ways side by side: the SQL of `sql` (the projections' tables),
the in-memory column index of a large app's users (`columns`, `evaluation`, `following`,
`lifecycle`), and `choice`, which asks the index first and SQL when it cannot answer. The
third evaluator, `domain.matching`, tests one user at a time (auto messages on a ping).

An in-memory column index of one large app's users: exact filter counts in milliseconds.

Counting who a filter matches means visiting every user who might: at a million users,
PostgreSQL spends 100-300 ms on two cores however the tables are indexed (bench/audience.py),
while the first page, read off the sort order's index, is fast. This index keeps what filters
test as numpy columns, one slot per user, and counts with a few vector operations. It gives
the same answers as `domain.matching` (the rules are listed there) and as `sql`;
tests/integration/test_audience_index.py holds it to both.

It follows the projections rather than the events: each use first re-reads the users (and
companies) whose events the projections applied since it last looked, found by the positions
the projections track and the notification log between them. So a count is never older than
the projections it sits beside. Building it reads the app's projection rows once (seconds at
a million users), in a background thread; until then counts come from SQL.
"""
