"""Unsubscribe links from bulk emails: no login, a signed token names the app and user.

Opening the link shows a page with one button, so that mail scanners following links do not
unsubscribe anyone; the button (and mail clients' one-click List-Unsubscribe-Post) does.
"""

from __future__ import annotations

from flask import Blueprint, render_template_string
from flask.typing import ResponseReturnValue

from commands.errors import UserNotFound
from commands.handling import handle
from commands.tokens import read_unsubscribe_token
from commands.users import UnsubscribeByLink, unsubscribe_by_link
from web import context

unsubscribe = Blueprint("unsubscribe", __name__)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
{% if done %}<h1>You are unsubscribed</h1><p>You will get no more bulk emails from us.</p>
{% else %}<h1>Unsubscribe?</h1><p>Stop receiving bulk emails from us.</p>
<form method="post"><button type="submit">Unsubscribe</button></form>{% endif %}
</body></html>"""


def _target(token: str) -> tuple[str, str, str | None]:
    services = context.services()
    found = read_unsubscribe_token(services.config.secret_key, token)
    if found is None:
        raise UserNotFound("this unsubscribe link")
    return found


@unsubscribe.get("/unsubscribe/<token>")
def confirm(token: str) -> ResponseReturnValue:
    _target(token)
    return render_template_string(PAGE, done=False)


@unsubscribe.post("/unsubscribe/<token>")
def unsubscribed(token: str) -> ResponseReturnValue:
    app_id, user_key, message_id = _target(token)
    services = context.services()
    by_link = UnsubscribeByLink(app_id, user_key, message_id)
    handle(unsubscribe_by_link, by_link, services.store, services.clock)
    return render_template_string(PAGE, done=True)
