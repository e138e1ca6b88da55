"""Bodies that could exhaust the stack or the memory are refused before they are parsed: a
clear 400 naming the field, nothing stored, and Parley carries on for everyone else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from commands.apps import CreatedApp
from web.bootstrap import Services

DEEP = '{"a":' * 5000 + "1" + "}" * 5000
JUST_TOO_DEEP = '{"a":' * 33 + "1" + "}" * 33  # within Python's own limit, beyond Parley's
REST = ["/users", "/events", "/tags", "/messages", "/segments", "/conversations/x/reply"]
WIDGET = ["/widget/ping", "/widget/events", "/widget/views", "/widget/conversations"]


def refusal(answer: Any) -> tuple[int, str, str, str]:
    (error,) = answer.get_json()["errors"]
    return answer.status_code, error["code"], error["field"], error["message"]


@pytest.mark.parametrize("raw", [DEEP, JUST_TOO_DEEP])
def test_deeply_nested_json_is_refused_on_every_route(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services, raw: str
) -> None:
    head = services.store.head()
    for path in REST:
        answer = client.post(path, data=raw, headers={**auth, "Content-Type": "application/json"})
        status, code, field, message = refusal(answer)
        assert (status, code, field) == (400, "parameter_invalid", "body"), path
        assert "nested deeper than 32 levels" in message
    segment = client.put("/segments/x", data=raw, headers=auth, content_type="application/json")
    assert refusal(segment)[:3] == (400, "parameter_invalid", "body")
    for path in WIDGET:
        status, code, field, message = refusal(client.post(path, data=raw))
        assert (status, code, field) == (400, "parameter_invalid", "body"), path
    listed = client.get("/users", query_string={"filter": raw}, headers=auth)
    status, code, field, message = refusal(listed)
    assert (status, field) == (400, "filter") and "nested deeper" in message
    assert services.store.head() == head
    # Parley goes on answering.
    ping = client.post("/widget/ping", json={"app_id": app.app_id, "user": {"user_id": "u1"}})
    assert ping.status_code == 200


def test_bodies_over_the_route_limit_are_refused_before_parsing(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    head = services.store.head()
    padding = "x" * (64 * 1024)
    ping = {"app_id": app.app_id, "user": {"user_id": "u1", "bio": padding}}
    status, code, field, message = refusal(client.post("/widget/ping", json=ping))
    assert (status, code, field, message) == (
        400,
        "parameter_invalid",
        "body",
        "body: at most 65536 bytes",
    )
    huge = {"user_id": "u1", "custom_attributes": {"bio": "x" * (1024 * 1024)}}
    status, _, field, message = refusal(client.post("/users", json=huge, headers=auth))
    assert (status, field, message) == (400, "body", "body: at most 1048576 bytes")
    assert services.store.head() == head
    # A user may write a long message in the box: the route that takes one allows for it.
    long_body = {"app_id": app.app_id, "user_id": "u1", "body": "word " * 20_000}
    client.post("/widget/ping", json={"app_id": app.app_id, "user": {"user_id": "u1"}})
    written = client.post("/widget/conversations", json=long_body)
    assert written.status_code == 200, written.get_json()


def with_lone_surrogate(value: dict[str, Any]) -> str:
    """JSON text whose "LONE" strings are JSON's escape of a lone surrogate, \\ud800."""
    return json.dumps(value).replace('"LONE"', '"\\ud800"')


def test_a_lone_surrogate_is_refused_not_a_server_error(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    head = services.store.head()
    json_type = {"Content-Type": "application/json"}
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("/users", {"user_id": "u1", "name": "LONE"}),
        ("/segments", {"name": "LONE", "filter": {"all": []}}),
        ("/tags", {"name": "LONE", "users": []}),
    ]
    for path, given in bodies:
        raw = with_lone_surrogate(given)
        answer = client.post(path, data=raw, headers={**auth, **json_type})
        assert refusal(answer)[:3] == (400, "parameter_invalid", "body"), path
    ping = with_lone_surrogate({"app_id": app.app_id, "user": {"user_id": "u1", "name": "LONE"}})
    assert refusal(client.post("/widget/ping", data=ping))[:3] == (400, "parameter_invalid", "body")
    found = with_lone_surrogate({"attribute": "name", "operator": "is", "value": "LONE"})
    listed = client.get("/users", query_string={"filter": found}, headers=auth)
    assert refusal(listed)[:3] == (400, "parameter_invalid", "filter")
    assert services.store.head() == head
