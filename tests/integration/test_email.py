"""Emails as users receive them, and their unsubscribe links end to end."""

from __future__ import annotations

import re
from email.message import EmailMessage

from flask.testing import FlaskClient

from commands.apps import CreatedApp
from commands.email import Sender, build_email
from commands.tokens import unsubscribe_token
from domain.content import compile_body, variables_of
from tests.helpers import ping, user_rows
from web.bootstrap import Services

ANN = Sender("Ann Admin", "ann@acme.io")
BODY = compile_body(
    'Hi {{ first_name | fallback:"there" }},\n\nWe shipped **PDF export**.', "markdown", set()
)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert text is not None and page is not None
    return str(text.get_content()), str(page.get_content())


def test_an_official_email_has_the_sender_inlined_styles_and_a_text_part() -> None:
    message = build_email(
        BODY,
        variables_of({"name": "John Smith"}),
        subject="New: PDF export",
        style="official",
        sender=ANN,
        to="john@x.io",
        unsubscribe_url="https://parley.example/unsubscribe/t0k",
    )
    text, page = parts(message)
    assert message["From"] == "Ann Admin <ann@acme.io>"
    assert message["List-Unsubscribe"] == "<https://parley.example/unsubscribe/t0k>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hi John," in text and "PDF export" in text
    assert "Unsubscribe: https://parley.example/unsubscribe/t0k" in text
    assert "<strong>PDF export</strong>" in page
    assert re.search(r'<span class="avatar" style="[^"]*border-radius', page)  # CSS inlined
    assert ">AA</span>" in page and "Ann Admin" in page


def test_a_personal_email_looks_typed_by_hand_and_one_to_one_mail_has_no_unsubscribe() -> None:
    message = build_email(
        BODY,
        variables_of({}),
        subject="Hello",
        style="personal",
        sender=ANN,
        to="x@y.io",
        unsubscribe_url=None,
    )
    text, page = parts(message)
    assert "Hi there," in text
    assert "avatar" not in page and "Unsubscribe" not in page
    assert message["List-Unsubscribe"] is None


def test_the_unsubscribe_link_unsubscribes_and_the_snippet_still_wins(
    client: FlaskClient, app: CreatedApp, services: Services
) -> None:
    saved = ping(services, app.app_id, {"user_id": "u1", "email": "u1@x.io"})
    token = unsubscribe_token(services.config.secret_key, app.app_id, saved.user.id.hex)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and b"<form" in page.data
    assert user_rows(services, app.app_id)[0]["unsubscribed_from_emails"] is False  # GET alone
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert user_rows(services, app.app_id)[0]["unsubscribed_from_emails"] is True
    # The snippet's own value overrides link and manual actions (seed).
    ping(services, app.app_id, {"user_id": "u1", "unsubscribed_from_emails": False})
    assert user_rows(services, app.app_id)[0]["unsubscribed_from_emails"] is False
    forged = unsubscribe_token("another secret", app.app_id, saved.user.id.hex)
    assert client.post(f"/unsubscribe/{forged}").status_code == 404
    assert client.post(f"/unsubscribe/{token[:-2]}xx").status_code == 404
