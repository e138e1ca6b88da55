"""The user list's total: when unfiltered, the app's running count the users projection keeps
(no count of a million rows), always equal to the users listed."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from commands.apps import CreatedApp
from commands.users import DeleteUser, delete_user
from projections.tables import app_user_counts, users
from tests.helpers import ping
from web.bootstrap import Services


def listed(client: FlaskClient, auth: dict[str, str], **args: str) -> dict[str, Any]:
    found = client.get("/users", query_string=args, headers=auth)
    assert found.status_code == 200, found.get_json()
    return dict(found.get_json())


def test_the_unfiltered_total_follows_users_coming_and_going(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    for who in ("a", "b", "c"):
        ping(services, app.app_id, {"user_id": who})
    gone = ping(services, app.app_id, {"user_id": "d"}).user
    delete_user(DeleteUser(app.app_id, gone.id.hex), services.store, services.clock)
    ping(services, app.app_id, {"user_id": "a"})  # a returning user is not a new one
    services.runner.catch_up()
    found = listed(client, auth)
    assert found["total_count"] == 3
    assert len(found["users"]) == 3
    ping(services, app.app_id, {"user_id": "d"})  # back after being deleted
    services.runner.catch_up()
    assert listed(client, auth)["total_count"] == 4
    everyone = '{"all": []}'
    assert listed(client, auth, filter=everyone)["total_count"] == 4
    with services.engine.connect() as conn:
        held = conn.execute(select(app_user_counts.c.users)).scalar_one()
        rows = conn.execute(select(users.c.id).where(users.c.app_id == app.app_id)).all()
    assert held == len(rows) == 4
