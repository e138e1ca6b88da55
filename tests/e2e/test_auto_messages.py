"""Auto messages: shown with the page view where a user first matches, once, on the right
pages, until stopped; exactly once when page views of one user race on PostgreSQL."""

from __future__ import annotations

import json
import threading
from typing import Any

from flask.testing import FlaskClient

from commands.apps import CreatedApp
from commands.auto_messages import (
    ComposeAutoMessage,
    StopMessage,
    compose_auto_message,
    stop_message,
)
from domain.identity import user_id_key
from domain.messages import Message
from domain.user import User
from tests.helpers import ping
from tests.integration.test_store import together
from web.bootstrap import Services

PRO = {"attribute": "custom.plan", "operator": "is", "value": "pro"}


def auto(services: Services, app_id: str, **given: Any) -> Message:
    fields: dict[str, Any] = {
        "app_id": app_id,
        "message_type": "announcement",
        "admin_id": "1",
        "subject": None,
        "body": 'Welcome to Pro, {{ first_name | fallback:"friend" }}!',
        "markup": "markdown",
        "style": None,
        "custom_keys": {"plan"},
        "audience": PRO,
    }
    composed = ComposeAutoMessage(**{**fields, **given})
    return compose_auto_message(composed, services.store, services.clock)


def boot(client: FlaskClient, app_id: str, url: str = "https://app.io/home", **user: Any) -> Any:
    body = {"app_id": app_id, "user": user, "url": url}
    response = client.post("/widget/ping", data=json.dumps(body))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["messages"]


def test_a_user_sees_an_auto_message_once_when_they_first_match(
    client: FlaskClient, app: CreatedApp, services: Services
) -> None:
    message = auto(services, app.app_id)
    assert boot(client, app.app_id, user_id="ann", name="Ann Lee") == []  # no plan yet
    (shown,) = boot(client, app.app_id, user_id="ann", plan="pro")
    assert shown["id"] == message.message_id
    assert shown["body"] == "<p>Welcome to Pro, Ann!</p>"
    viewed = {"app_id": app.app_id, "user_id": "ann", "message_id": message.message_id}
    assert client.post("/widget/views", data=json.dumps(viewed)).status_code == 202
    assert boot(client, app.app_id, user_id="ann", plan="pro") == []  # never twice
    user: User = services.store.repository.get(user_id_key(app.app_id, "ann"))
    assert user.auto_messages_shown == [message.message_id]


def test_url_restriction_and_stopping(
    client: FlaskClient, app: CreatedApp, services: Services
) -> None:
    billing = auto(services, app.app_id, url_pattern="https://app.io/billing*")
    assert boot(client, app.app_id, url="https://app.io/home", user_id="bo", plan="pro") == []
    (shown,) = boot(client, app.app_id, url="https://app.io/billing/plans", user_id="bo")
    assert shown["id"] == billing.message_id
    stop_message(StopMessage(app.app_id, billing.message_id), services.store, services.clock)
    assert boot(client, app.app_id, url="https://app.io/billing", user_id="cy", plan="pro") == []


def test_an_auto_message_goes_out_exactly_once_when_page_views_race(
    pg_services: Services,
) -> None:
    from commands.apps import CreateApp, create_app

    services = pg_services
    created = create_app(CreateApp("Race"), services.store, services.clock)
    message = auto(services, created.app_id)
    ping(services, created.app_id, {"user_id": "r"})
    deliveries: list[int] = []
    lock = threading.Lock()

    def page_views(own: Services, n: int) -> None:
        for _ in range(5):
            saved = ping(own, created.app_id, {"user_id": "r", "plan": "pro"})
            with lock:
                deliveries.append(len(saved.messages))

    together(6, page_views, services)
    assert sum(deliveries) == 1
    user: User = services.store.repository.get(user_id_key(created.app_id, "r"))
    assert user.auto_messages_shown == [message.message_id]
    assert user.impressions == 31


def test_auto_messages_over_the_rest_api(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    from commands.apps import AddAdmin, add_admin
    from tests.helpers import post

    add_admin(AddAdmin(app.app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock)
    boot(client, app.app_id, user_id="seed", plan="free")  # the app knows custom "plan"
    services.runner.catch_up()
    given = {
        "message_type": "announcement",
        "body": 'Welcome, {{ first_name | fallback:"friend" }}',
        "from": {"type": "admin", "id": "1"},
        "filter": PRO,
        "url": "https://app.io/*",
    }
    created = post(client, "/auto_messages", auth, given)
    assert created.status_code == 200, created.get_json()
    message_id = created.get_json()["id"]
    (shown,) = boot(client, app.app_id, user_id="ann", name="Ann", plan="pro")
    assert shown["body"] == "<p>Welcome, Ann</p>"
    edited = client.put(
        f"/auto_messages/{message_id}", json={"body": "Hello again, {{ plan }}"}, headers=auth
    )
    assert edited.status_code == 200 and edited.get_json()["version"] == 2
    (shown,) = boot(client, app.app_id, user_id="bob", plan="pro")
    assert shown["body"] == "<p>Hello again, pro</p>"
    listed = client.get("/auto_messages", headers=auth).get_json()["auto_messages"]
    assert [m["id"] for m in listed] == [message_id]
    stopped = client.post(f"/auto_messages/{message_id}/stop", headers=auth)
    assert stopped.status_code == 200 and stopped.get_json()["stopped_at"] is not None
    assert boot(client, app.app_id, user_id="cyd", plan="pro") == []
    assert client.get("/auto_messages", headers=auth).get_json()["auto_messages"] == []
    head = services.store.head()
    for bad, field in (
        ({**given, "body": "Hi {{ shoe_size }}"}, "body"),
        (
            {**given, "filter": {"attribute": "nope", "operator": "is", "value": 1}},
            "filter.attribute",
        ),
        ({**given, "from": {"type": "admin", "id": "9"}}, "from"),
        ({**given, "message_type": "email"}, "subject"),  # an auto email needs a subject
        ({**given, "message_type": "popup"}, "message_type"),
    ):
        refused = post(client, "/auto_messages", auth, bad)
        assert refused.status_code == 400, bad
        assert refused.get_json()["errors"][0]["field"] == field
    assert services.store.head() == head
    assert client.put("/auto_messages/zzz", json={"body": "x"}, headers=auth).status_code == 404


def test_messages_count_deliveries_and_views(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    message = auto(services, app.app_id)
    for user_id in ("a", "b", "c"):
        boot(client, app.app_id, user_id=user_id, plan="pro")
    view = {"app_id": app.app_id, "user_id": "a", "message_id": message.message_id}
    assert client.post("/widget/views", data=json.dumps(view)).status_code == 202
    stranger = {**view, "user_id": "nobody-saw-it"}
    assert client.post("/widget/views", data=json.dumps(stranger)).status_code == 404
    services.runner.catch_up()
    found = client.get(f"/messages/{message.message_id}", headers=auth).get_json()
    assert found["stats"] == {
        **{"sent": 0, "delivered": 3, "viewed": 1},
        **{"opened": 0, "clicked": 0, "unsubscribed": 0, "replied": 0, "not_shown": 0},
    }
    listed = client.get("/auto_messages", headers=auth).get_json()["auto_messages"]
    assert listed[0]["stats"]["delivered"] == 3
