"""Emails as users receive them (seed: "What types of email can be sent?").

Two styles: *official* carries the teammate's name and picture (initials) in a simple frame;
*personal* looks like an email typed by hand. Both have an HTML part with the CSS inlined
(premailer, behind `inline_css` so it can be replaced) and a plain-text part. Bulk emails carry
a signed unsubscribe link in the footer and List-Unsubscribe headers (one-click).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import premailer

from commands.tokens import reply_token, tracking_token
from domain.content import Body, sanitise
from domain.errors import InvalidValue

STYLES = ("official", "personal")
OFFICIAL_CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #333333; background: #f4f5f7; }
.frame { max-width: 560px; margin: 24px auto; background: #ffffff; border-radius: 6px;
         padding: 24px; }
.sender { border-bottom: 1px solid #e6e8eb; padding-bottom: 12px; margin-bottom: 16px; }
.avatar { display: inline-block; width: 36px; height: 36px; line-height: 36px;
          border-radius: 18px; background: #3a79d7; color: #ffffff; text-align: center;
          font-weight: bold; margin-right: 8px; }
.name { font-weight: bold; }
.footer { color: #8a9099; font-size: 12px; margin-top: 24px; }
.footer a { color: #8a9099; }
"""
PERSONAL_CSS = """
body { font-family: Arial, sans-serif; color: #222222; }
.footer { color: #999999; font-size: 11px; margin-top: 32px; }
.footer a { color: #999999; }
"""


@dataclass(frozen=True)
class Mailing:
    """What links and reply addresses in teammates' and users' emails are made of."""

    base_url: str
    secret_key: str
    inbound_domain: str


@dataclass(frozen=True)
class Sender:
    name: str
    email: str


def inline_css(document: str) -> str:
    """Style rules into style attributes, for email clients that ignore <style>."""
    return str(
        premailer.transform(document, disable_validation=True, cssutils_logging_level="CRITICAL")
    )


@dataclass(frozen=True)
class Tracking:
    """Where an email reports that it was opened (an image) and clicked (links through)."""

    pixel_url: str
    link: Callable[[str], str]


def tracking_for(secret_key: str, base_url: str, message_id: str, user_key: str) -> Tracking:
    base = base_url.rstrip("/")

    def link(url: str) -> str:
        return f"{base}/e/{tracking_token(secret_key, message_id, user_key, url)}/click"

    pixel = f"{base}/e/{tracking_token(secret_key, message_id, user_key, None)}/open.gif"
    return Tracking(pixel, link)


@dataclass(frozen=True)
class Thread:
    """Where replies to an email go: the Reply-To address and a Message-ID that both name
    one conversation and who it was sent to (the user: "u", or a teammate: "a" + id)."""

    reply_to: str
    message_id: str
    in_reply_to: str | None = None  # the user's own email that started the conversation


def thread_for(
    secret_key: str,
    domain: str,
    app_id: str,
    conversation_id: str,
    who: str,
    in_reply_to: str | None = None,
) -> Thread:
    token = reply_token(secret_key, conversation_id, who)
    return Thread(
        reply_to=f"{app_id}+{token}@{domain}",
        message_id=f"<{token}.{secrets.token_hex(6)}@{domain}>",
        in_reply_to=in_reply_to,
    )


def apply_thread(message: EmailMessage, thread: Thread | None, fallback_domain: str) -> None:
    """Reply-To and Message-ID (and In-Reply-To/References) as `thread` says, or a plain
    Message-ID."""
    if thread is None:
        message["Message-ID"] = make_msgid(domain=fallback_domain or None)
        return
    message["Reply-To"] = thread.reply_to
    message["Message-ID"] = thread.message_id
    if thread.in_reply_to:
        message["In-Reply-To"] = thread.in_reply_to
        message["References"] = thread.in_reply_to


def _initials(name: str) -> str:
    return "".join(part[0] for part in name.split()[:2]).upper() or "?"


def build_email(
    body: Body,
    values: dict[str, object],
    *,
    subject: str,
    style: str,
    sender: Sender,
    to: str,
    unsubscribe_url: str | None,
    tracking: Tracking | None = None,
    thread: Thread | None = None,
) -> EmailMessage:
    """One user's email: HTML (styled, CSS inlined) and plain text, headers included; with
    `tracking`, the HTML's links go through Parley and an image reports the open; with
    `thread`, the user's reply lands in the message's conversation."""
    if style not in STYLES:
        raise InvalidValue("template", f"expected one of {', '.join(STYLES)}")
    shown, text = body.render(values)
    if tracking is not None:
        shown = sanitise(shown, links=tracking.link)
        pixel = html.escape(tracking.pixel_url)
        shown += f'<img src="{pixel}" width="1" height="1" alt="">'
    footer_html, footer_text = "", ""
    if unsubscribe_url is not None:
        link = html.escape(unsubscribe_url)
        footer_html = f'<p class="footer"><a href="{link}">Unsubscribe</a> from these emails.</p>'
        footer_text = f"\n\n--\nUnsubscribe: {unsubscribe_url}"
    if style == "official":
        who = html.escape(sender.name)
        content = (
            f'<div class="frame"><div class="sender"><span class="avatar">'
            f'{html.escape(_initials(sender.name))}</span><span class="name">{who}</span></div>'
            f"{shown}{footer_html}</div>"
        )
        css = OFFICIAL_CSS
    else:
        content = f"{shown}{footer_html}"
        css = PERSONAL_CSS
    document = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<style>{css}</style></head><body>{content}</body></html>"
    )
    # Long unstructured headers (List-Unsubscribe) must stay plain: fold at RFC 5322's limit.
    message = EmailMessage(policy=policy.default.clone(max_line_length=998))
    message["Subject"] = subject
    message["From"] = formataddr((sender.name, sender.email))
    message["To"] = to
    apply_thread(message, thread, sender.email.rpartition("@")[2])
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text + footer_text)
    message.add_alternative(inline_css(document), subtype="html")
    return message
