"""The relationship score, exactly as the seed defines it, right at any moment without any
row being rewritten as time passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from commands.apps import CreatedApp
from commands.users import MessageExchanged, record_message_received, record_message_sent
from domain.relationship import relationship_score
from tests.helpers import post
from web.bootstrap import Services

DAY = 86_400
NOW = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("sent_days_ago", "received_days_ago", "score"),
    [
        (None, None, 0),
        (1, None, 50),
        (1, 2, 100),  # received and responded within 30 days
        (29, 29, 100),
        (30, None, 45),  # each half falls 5 points a month
        (9 * 30, None, 5),  # the seed: a message 9 months ago is a 5% relationship
        (10 * 30, None, 0),
        (400, 59, 45),
    ],
)
def test_the_seeds_relationship_score(
    sent_days_ago: int | None, received_days_ago: int | None, score: int
) -> None:
    sent = None if sent_days_ago is None else NOW - sent_days_ago * DAY
    received = None if received_days_ago is None else NOW - received_days_ago * DAY
    assert relationship_score(sent, received, NOW) == score


def test_scores_fall_with_time_and_sort_and_filter_the_list(
    client: FlaskClient, auth: dict[str, str], services: Services, app: CreatedApp
) -> None:
    app_id = app.app_id
    for name in ("ann", "bob", "cyd"):
        post(client, "/users", auth, {"user_id": name})
    now = services.clock.now()
    record_message_sent(MessageExchanged(app_id, "ann", now), services.store, services.clock)
    record_message_received(MessageExchanged(app_id, "ann", now), services.store, services.clock)
    record_message_sent(
        MessageExchanged(app_id, "bob", now - timedelta(days=45)), services.store, services.clock
    )
    services.runner.catch_up()

    def scores() -> list[tuple[str, int]]:
        page = client.get("/users?sort=relationship_score&order=desc", headers=auth).get_json()
        return [(u["user_id"], u["relationship_score"]) for u in page["users"]]

    assert scores() == [("ann", 100), ("bob", 45), ("cyd", 0)]
    close = {"attribute": "relationship_score", "operator": "gte", "value": 90}
    url = f"/users?filter={quote(json.dumps(close))}"
    assert [u["user_id"] for u in client.get(url, headers=auth).get_json()["users"]] == ["ann"]
    services.clock.advance(days=31)  # type: ignore[attr-defined]
    assert scores() == [("ann", 90), ("bob", 40), ("cyd", 0)]
    assert [u["user_id"] for u in client.get(url, headers=auth).get_json()["users"]] == ["ann"]
    services.clock.advance(days=30)  # type: ignore[attr-defined]
    assert client.get(url, headers=auth).get_json()["users"] == []
