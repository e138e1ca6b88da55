"""What every settings page shares: the side menu and the app as it stands now."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue

from commands.apps import load_app
from web.context import services
from web.dashboard.account import Teammate

# The side menu: endpoint, label. Every settings endpoint starts with "dashboard.settings".
SECTIONS = (
    ("dashboard.settings", "Installation"),
    ("dashboard.settings_security", "Secure mode"),
    ("dashboard.settings_api", "REST API key"),
    ("dashboard.settings_inbox", "Inbox"),
    ("dashboard.settings_teammates", "Teammates"),
)


def page(template: str, who: Teammate, status: int = 200, **more: Any) -> ResponseReturnValue:
    """A settings page, with the side menu and the app as it stands now."""
    app = more.pop("app", None) or load_app(services().store, who.app.app_id)
    base = services().config.base_url.rstrip("/")
    shown = render_template(template, who=who, app=app, sections=SECTIONS, base=base, **more)
    return shown, status
