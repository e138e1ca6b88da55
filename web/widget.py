"""The snippet's side of Parley: widget.js and the ping endpoint it calls from any origin."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_cors import CORS
from marshmallow import ValidationError

from commands.audience_schemas import WidgetClickSchema, WidgetEventSchema, WidgetViewSchema
from commands.auto_messages import record_click, record_view, shown
from commands.schemas import PingSchema, refuse_nul
from commands.tracking import track_event
from commands.users import Ping, record_ping
from web.bootstrap import Services

widget = Blueprint("widget", __name__)
CORS(widget, origins="*", methods=["POST", "OPTIONS"], max_age=86400)

WIDGET_JS = Path(__file__).parent / "static" / "widget.js"
# Schemas are stateless once built; building one per request costs more than the load.
PING, EVENT, VIEW = PingSchema(), WidgetEventSchema(), WidgetViewSchema()
CLICK = WidgetClickSchema()


@widget.get("/widget.js")
def widget_js() -> ResponseReturnValue:
    response = Response(WIDGET_JS.read_bytes(), mimetype="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def load_ping(data: dict[str, Any]) -> Ping:
    """Errors name fields as the customer wrote them in intercomSettings (`created_at`)."""
    try:
        loaded: Ping = PING.load(data)
    except ValidationError as error:
        messages = dict(error.messages) if isinstance(error.messages, dict) else {}
        settings = messages.pop("user", {})
        if isinstance(settings, dict):
            messages.update(settings)
        raise ValidationError(messages or error.messages) from None
    return loaded


def snippet_json() -> dict[str, Any]:
    """The snippet's JSON body: sent as text/plain too, so browsers skip the preflight."""
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"body": ["expected a JSON object"]})
    return data


@widget.post("/widget/ping")
def ping() -> ResponseReturnValue:
    """Boot or update: JSON is accepted as text/plain too, so browsers skip the preflight."""
    data = snippet_json()
    refuse_nul({k: v for k, v in data.items() if k != "user"})
    refuse_nul(data.get("user"), "")  # fields named as in intercomSettings
    cmd = replace(
        load_ping(data),
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    services: Services = current_app.extensions["parley"]
    saved = record_ping(cmd, services.store, services.clock, services.locate)
    # Inbox messages only land in the user's inbox; the others pop up too.
    messages = [shown(m, saved.user) for m in saved.messages if m.message_type != "inbox"]
    return jsonify({"type": "ping", "user": {"id": saved.user.id.hex}, "messages": messages})


@widget.post("/widget/events")
def track() -> ResponseReturnValue:
    """`Intercom('trackEvent', name, metadata)`: recorded on the booted user, now."""
    data = snippet_json()
    refuse_nul(data)
    services: Services = current_app.extensions["parley"]
    track_event(EVENT.load(data), services.store, services.clock, from_snippet=True)
    return jsonify({"type": "event"}), 202


@widget.post("/widget/views")
def view() -> ResponseReturnValue:
    """The widget displayed an in-app message to the booted user."""
    data = snippet_json()
    services: Services = current_app.extensions["parley"]
    record_view(VIEW.load(data), services.store, services.clock)
    return jsonify({"type": "view"}), 202


@widget.post("/widget/clicks")
def click() -> ResponseReturnValue:
    """A link in an in-app message was followed by the booted user."""
    data = snippet_json()
    services: Services = current_app.extensions["parley"]
    record_click(CLICK.load(data), services.store, services.clock)
    return jsonify({"type": "click"}), 202
