"""Email into the inbox: the app's incoming address over real SMTP (`parley inbound`'s server)
and over the webhook; threading by reply address and by In-Reply-To/References; trimming;
attachments; teammates answering by email; refusals that store nothing."""

# ruff: noqa: RUF001 (letters of other alphabets and full-width punctuation are meant)
from __future__ import annotations

import email
import logging
import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from commands.apps import AddAdmin, CreatedApp, add_admin
from commands.conversations import SetDefaultAssignee, set_default_assignee
from commands.html_text import html_to_text
from commands.inbound import receive
from commands.mime import Limits, Refused
from commands.trimming import trim
from domain.conversations import emailed_conversation_id
from domain.identity import user_id_key
from projections.tables import attachments
from queries.messages import stats_of
from queries.users import find_user
from tests.helpers import free_port, ping, post, settle
from web.bootstrap import Services
from workers.inbound import start_server
from workers.jobs import EMAIL_QUEUE, Jobs

DOMAIN = "parley.localhost"  # Config's default INBOUND_DOMAIN

PDF = b"%PDF-1.4 quarterly numbers\n" * 40


def mail(
    sender: str,
    to: str,
    text: str,
    *,
    subject: str = "Export is broken",
    html: str | None = None,
    in_reply_to: str | None = None,
    attach: tuple[str, bytes] | None = None,
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mail.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attach is not None:
        message.add_attachment(attach[1], maintype="application", subtype="pdf", filename=attach[0])
    return message


def webhook(
    client: FlaskClient, auth: dict[str, str], message: EmailMessage | bytes, **args: str
) -> Any:
    raw = message if isinstance(message, bytes) else bytes(message)
    return client.post(
        "/email/inbound",
        data=raw,
        query_string=args,
        headers={**auth, "Content-Type": "message/rfc822"},
    )


def nested_parts(depth: int) -> bytes:
    """An email whose multipart parts nest `depth` deep (a few dozen KB)."""
    head = b"From: jo@example.org\r\nTo: x@y\r\nSubject: deep\r\n"
    body = b"hello\r\n"
    for level in reversed(range(depth)):
        boundary = f"b{level}".encode()
        body = (
            b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n--"
            + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    return head + body


def outbox_mail(services: Services, jobs: Jobs, count: int) -> list[email.message.Message]:
    """The emails Parley has sent so far (to the outbox), once `count` of them are there."""
    outbox = Path(services.config.outbox_dir)
    deadline = time.monotonic() + 20
    while True:
        jobs.broker.join(EMAIL_QUEUE, timeout=20_000)
        found = sorted(outbox.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
        if len(found) >= count or time.monotonic() > deadline:
            return [email.message_from_bytes(f.read_bytes()) for f in found]
        time.sleep(0.05)


def header(message: email.message.Message, name: str) -> str:
    """A header as a mail client reads it (unfolded)."""
    return " ".join(str(message[name]).split())


def plain(message: email.message.Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def team(services: Services, app_id: str) -> None:
    add_admin(
        AddAdmin(app_id, "ann@acme.io", "Ann Admin"), services.store, services.clock
    )  # id "1"
    set_default_assignee(SetDefaultAssignee(app_id, "1"), services.store, services.clock)


def conversation(client: FlaskClient, auth: dict[str, str], conversation_id: str) -> Any:
    found = client.get(f"/conversations/{conversation_id}", headers=auth)
    assert found.status_code == 200, found.get_json()
    return found.get_json()


def log_head(services: Services) -> int:
    return services.store.head()


def test_an_email_over_smtp_starts_a_conversation_trimmed_with_its_attachment(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    team(services, app.app_id)
    jobs = client.application.extensions["parley_jobs"]
    server = start_server(services, host="127.0.0.1", port=free_port())
    try:
        sent = mail(
            "Jane Doe <Jane@Example.org>",
            f"{app.app_id}@{DOMAIN}",
            "Clicking Export gives a blank page.\n\nThanks,\nJane\n-- \nJane Doe\nCFO, Example\n\n"
            "On Mon, 23 Nov 2026 at 10:00, Someone <x@y.z> wrote:\n> older words\n",
            attach=("q3.pdf", PDF),
        )
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.send_message(sent, to_addrs=["nobody@" + DOMAIN])
            refused = smtp.send_message(sent, to_addrs=[f"{app.app_id}@{DOMAIN}"])
        assert refused == {}
    finally:
        server.stop()
    services.runner.catch_up()
    with services.engine.connect() as conn:
        user = find_user(conn, app.app_id, now=services.clock.now(), email="jane@example.org")
    assert user is not None and user["name"] == "Jane Doe"
    listed = client.get(
        "/conversations", query_string={"type": "user", "email": "jane@example.org"}, headers=auth
    ).get_json()
    (item,) = listed["conversations"]
    whole = conversation(client, auth, item["id"])
    opening = whole["conversation_message"]
    assert opening["subject"] == "Export is broken" and opening["via"] == "email"
    assert "Clicking Export gives a blank page." in opening["body"] and "Jane" in opening["body"]
    assert "CFO" not in opening["body"] and "older words" not in opening["body"]
    assert whole["assignee"] == {"type": "admin", "id": "1"}
    (upload,) = opening["attachments"]
    assert upload["name"] == "q3.pdf" and upload["filesize"] == len(PDF)
    link = upload["url"].replace("http://localhost", "")
    fetched = client.get(link)  # a signed link: the user's widget can show it too
    assert fetched.status_code == 200 and fetched.data == PDF
    assert fetched.headers["Content-Disposition"] == "attachment"
    token = link.split("/")[2]
    assert client.get(link.replace(token, token[:-2] + "xx")).status_code == 404
    # Ann is told, and her notification can be answered by email.
    (told,) = outbox_mail(services, jobs, 1)
    assert told["To"] == "ann@acme.io" and "Clicking Export" in plain(told)
    assert header(told, "Reply-To").startswith(f"{app.app_id}+")
    assert header(told, "Reply-To").endswith(f"@{DOMAIN}")


def test_the_same_email_delivered_twice_is_posted_once(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    sent = mail("jo@example.org", f"{app.app_id}@{DOMAIN}", "Hello?")
    first = webhook(client, auth, sent)
    assert first.status_code == 200 and first.get_json()["status"] == "started"
    head = log_head(services)
    again = webhook(client, auth, sent)
    assert again.get_json()["status"] == "duplicate"
    assert again.get_json()["conversation_id"] == first.get_json()["conversation_id"]
    assert log_head(services) == head  # nothing more recorded
    # The inbox shows it as soon as the webhook has answered (read-your-writes).
    listed = client.get(
        "/conversations", query_string={"type": "user", "email": "jo@example.org"}, headers=auth
    ).get_json()
    assert listed["total_count"] == 1


def test_a_user_answers_by_email_threaded_by_reply_address_or_references(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    team(services, app.app_id)
    jobs = client.application.extensions["parley_jobs"]
    first = mail(
        "Jo <jo@example.org>",
        f"{app.app_id}@{DOMAIN}",
        "Where is my invoice?",
        subject="Where is my invoice?",
    )
    conversation_id = webhook(client, auth, first).get_json()["conversation_id"]
    answered = post(
        client,
        f"/conversations/{conversation_id}/reply",
        auth,
        {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "Sent it again."},
    )
    assert answered.status_code == 200
    post(
        client,
        f"/conversations/{conversation_id}/reply",
        auth,
        {"type": "admin", "admin_id": "1", "message_type": "note", "body": "billing bug?"},
    )
    # Ann's notification, then her answer by email to Jo (never the private note).
    emails = outbox_mail(services, jobs, 2)
    (to_jo,) = [m for m in emails if m["To"] == "jo@example.org"]
    assert "Sent it again." in plain(to_jo) and "billing bug" not in plain(to_jo)
    assert to_jo["Subject"] == "Re: Where is my invoice?"
    assert to_jo["In-Reply-To"] == first["Message-ID"]
    # Jo replies to the Reply-To address (quoting the answer, in HTML only).
    by_address = mail(
        "jo@example.org",
        header(to_jo, "Reply-To"),
        "Got it, thanks!\n\nOn Tue, Ann Admin wrote:\n> Sent it again.\n",
        subject="Re: Where is my invoice?",
    )
    assert webhook(client, auth, by_address).get_json()["status"] == "replied"
    # Then once more to the plain address: the References thread it.
    html_only = EmailMessage()
    html_only["From"] = "jo@example.org"
    html_only["To"] = f"{app.app_id}@{DOMAIN}"
    html_only["Subject"] = "Re: Where is my invoice?"
    html_only["Message-ID"] = make_msgid(domain="mail.example")
    html_only["References"] = f"{first['Message-ID']} {header(to_jo, 'Message-ID')}"
    html_only.set_content(
        "<div>One <b>more</b> question &amp; then I'm done.</div>"
        '<div class="gmail_quote">On Tue wrote:<blockquote>Sent it again.</blockquote></div>',
        subtype="html",
    )
    assert webhook(client, auth, html_only).get_json()["conversation_id"] == conversation_id
    parts = conversation(client, auth, conversation_id)["conversation_parts"]
    comments = [p for p in parts["conversation_parts"] if p["author"]["type"] == "user"]
    assert [p["body"] for p in comments] == [
        "<p>Got it, thanks!</p>",
        "<p>One more question &amp; then I'm done.</p>",
    ]
    # A reply address with a forged token threads nowhere: it starts a new conversation.
    forged = header(to_jo, "Reply-To").replace(".u.", ".a1.")
    stray = webhook(client, auth, mail("jo@example.org", forged, "Sneaky"))
    assert stray.get_json()["status"] == "started"
    assert stray.get_json()["conversation_id"] != conversation_id


def test_a_teammate_answers_by_replying_to_the_notification_email(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    team(services, app.app_id)
    jobs = client.application.extensions["parley_jobs"]
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"})
    started = post(
        client, "/messages", auth, {"from": {"type": "user", "user_id": "j"}, "body": "Hi team"}
    )
    conversation_id = started.get_json()["id"]
    (told,) = outbox_mail(services, jobs, 1)
    answer = mail(
        "Ann Admin <ANN@acme.io>",
        header(told, "Reply-To"),
        "Hi John, looking into it.\n\n> Hi team\n",
        subject=f"Re: {told['Subject']}",
        in_reply_to=header(told, "Message-ID"),
    )
    # The user (or anyone not Ann) cannot post through Ann's reply address.
    spoofed = mail("john@x.io", header(told, "Reply-To"), "I am Ann, honest")
    refused = webhook(client, auth, spoofed)
    assert refused.status_code == 422
    assert "not that teammate" in refused.get_json()["errors"][0]["message"]
    # A teammate's email that answers nothing is refused too.
    lost = webhook(client, auth, mail("ann@acme.io", f"{app.app_id}@{DOMAIN}", "Hello all"))
    assert lost.status_code == 422
    posted = webhook(client, auth, answer)
    assert posted.status_code == 200 and posted.get_json()["status"] == "replied"
    whole = conversation(client, auth, conversation_id)
    (part,) = whole["conversation_parts"]["conversation_parts"]
    assert part["author"] == {"type": "admin", "id": "1"}
    assert part["body"] == "<p>Hi John, looking into it.</p>"
    # John wrote through the API, not by email: he reads the answer in the app, not by email.
    assert len(outbox_mail(services, jobs, 1)) == 1


def test_a_reply_to_an_emailed_message_lands_in_its_conversation(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    team(services, app.app_id)
    jobs = client.application.extensions["parley_jobs"]
    ping(services, app.app_id, {"user_id": "j", "email": "john@x.io", "name": "John Smith"})
    sent = post(
        client,
        "/messages",
        auth,
        {
            "message_type": "email",
            "subject": "Welcome aboard",
            "body": "Tell us what you think.",
            "template": "personal",
            "from": {"type": "admin", "id": "1"},
            "to": {"type": "user", "user_id": "j"},
        },
    )
    assert sent.status_code == 200, sent.get_json()
    (welcome,) = outbox_mail(services, jobs, 1)
    answer = mail("john@x.io", header(welcome, "Reply-To"), "Love it so far", subject="Re: Welcome")
    posted = webhook(client, auth, answer).get_json()
    user_key = user_id_key(app.app_id, "j").hex
    assert posted["conversation_id"] == emailed_conversation_id(sent.get_json()["id"], user_key)
    services.runner.catch_up()
    with services.engine.connect() as conn:
        stats = stats_of(conn, [sent.get_json()["id"]])[sent.get_json()["id"]]
    assert stats["replied"] == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"Subject: hi\r\n\r\nno sender\r\n", "sender"),
        (bytes(mail("jo@example.org", "x@y", " \n\n")), "no text"),
        (nested_parts(600), "nest too deep"),
    ],
)
def test_malformed_email_is_refused_with_its_reason_and_stores_nothing(
    client: FlaskClient,
    auth: dict[str, str],
    services: Services,
    raw: bytes,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    head = log_head(services)
    with caplog.at_level(logging.WARNING, logger="parley.inbound"):
        refused = webhook(client, auth, raw)
    assert refused.status_code == 422
    error = refused.get_json()["errors"][0]
    assert error["field"] == "email" and reason in error["message"]
    assert any(reason in r.getMessage() for r in caplog.records)
    assert log_head(services) == head


def test_oversized_attachments_are_refused_before_anything_is_stored(
    app: CreatedApp, services: Services
) -> None:
    limits = Limits(domain=DOMAIN, secret_key="test", attachment_max_bytes=len(PDF) - 1)
    raw = bytes(mail("jo@example.org", f"{app.app_id}@{DOMAIN}", "See file", attach=("q.pdf", PDF)))
    head = log_head(services)
    with pytest.raises(Refused) as refused:
        receive(services.store, services.engine, services.clock, limits, app.app_id, raw)
    assert refused.value.code == 552 and "q.pdf" in refused.value.reason
    with pytest.raises(Refused):
        small = Limits(domain=DOMAIN, secret_key="test", max_bytes=len(raw) - 1)
        receive(services.store, services.engine, services.clock, small, app.app_id, raw)
    assert log_head(services) == head
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(attachments)).scalar() == 0


def test_automatic_replies_are_not_posted(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    head = log_head(services)
    away = mail(
        "jo@example.org",
        f"{app.app_id}@{DOMAIN}",
        "I am out of office until Monday.",
        Auto_Submitted="auto-replied",
    )
    answered = webhook(client, auth, away)
    assert answered.status_code == 200 and answered.get_json()["status"] == "ignored"
    assert log_head(services) == head


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("Thanks!\n\nOn Mon, 23 Nov 2026 at 10:00, Parley <a+b@c.d> wrote:\n> old\n", "Thanks!"),
        ("Thanks!\n\nOn Mon, 23 Nov 2026 at 10:00, Parley\n<a+b@c.d> wrote:\n> old\n", "Thanks!"),
        ("Yes please.\n-- \nAnn Smith\nCFO\n", "Yes please."),
        ("Sure.\n\nSent from my iPhone\n", "Sure."),
        ("Done.\n\n-----Original Message-----\nFrom: Bob\nblah\n", "Done."),
        ("Reply\n\nFrom: Ann <a@b.c>\nSent: Monday\nTo: x@y.z\nSubject: y\n\nold\n", "Reply"),
        ("Point one\n> your question\nMy inline answer\n", "Point one\nMy inline answer"),
        # The user's own words that merely look like history stay.
        (
            "The export fails.\nFrom: the logs I see a 500.\nCan you look?",
            "The export fails.\nFrom: the logs I see a 500.\nCan you look?",
        ),
        (
            "Sent from my laptop earlier: the file is attached.",
            "Sent from my laptop earlier: the file is attached.",
        ),
        ("On Monday the export failed again.", "On Monday the export failed again."),
        ("On x\n" * 3000, ("On x\n" * 3000).strip()),
        # Bottom-posting and answers between quoted paragraphs keep every word.
        ("On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\nHello", "Hello"),
        (
            "On Tue, 1 Mar 2011 at 18:02, Ann <a@b.c> wrote:\n> One?\n\nYes.\n\n> Two?\n\nNo.",
            "Yes.\n\n\nNo.",
        ),
        ("Sure. On Tue, 1 Mar 2011 at 18:02, Ann <a@b.c> wrote:\n> old", "Sure."),
        # Nothing left after trimming: the whole text is kept, not refused.
        ("> only a quote\n", "> only a quote"),
        # Outlook's header block, plain or bold.
        ("Ok\n\n*From:* Ann [mailto:a@b.c]\n*Sent:* Monday\n*To:* x\n*Subject:* y\nold", "Ok"),
        # Attributions and separators in other languages, wrapped, address on the next line.
        ("Ja\n\nAm 13.12.2017 21:11 schrieb Ann <a@b.c>:\n\nalt", "Ja"),
        ("Ja\n\n-----Ursprüngliche Nachricht-----\nVon: Ann\nalt", "Ja"),
        ("Ja\n\nVon: Ann <a@b.c>\nGesendet: Montag\nAn: x\nBetreff: y\n\nalt", "Ja"),
        ("Oui\n\nLe lun. 15 nov. 2021 à 19:42, Ann <a@b.c>\na écrit :\n\nvieux", "Oui"),
        ("Oui\n\n-------- Message d'origine --------\nDe : Ann\nvieux", "Oui"),
        ("Sí\n\nEl lun, 1 ene 2018 a las 10:00, Ann (<a@b.c>) escribió:\n> viejo", "Sí"),
        ("Sì\n\nIl giorno 8 dicembre 2016, Ann <a@b.c>\nha scritto:\nvecchio", "Sì"),
        ("Sim\n\nEm 10 de julho de 2017 às 16:32, Ann (\na@b.c) escreveu:\n\nvelho", "Sim"),
        ("Ja\n\nOp 12 december 2016 19:05 schreef Ann <\na@b.c>:\n\n> oud", "Ja"),
        ("Tak\n\nW dniu 2017-01-09 11:59 użytkownik Ann <a@b.c> napisał:\n\nstary", "Tak"),
        ("Да\n\nср, 30 апр. 2025 г. в 15:19, Ann <a@b.c>:\n\nстарый", "Да"),
        ("Ja\n\nDen 1 jan. 2017 kl. 12:00 skrev Ann <a@b.c>:\n> gammal", "Ja"),
        ("Ja\n\ntir. 18. apr. 2017 kl. 13:09 skrev Ann <a@b.c\n>:\n\n> gammel", "Ja"),
        ("Ja\n\n-------- Oprindelig besked --------\nFra: Ann\ngammel", "Ja"),
        ("Kyllä\n\npe 20. lokakuuta 2017 klo 17.50 Ann\n<a@b.c> kirjoitti:\n\nvanha", "Kyllä"),
        ("Vâng\n\nVào 10:00 Thứ Hai, 1 tháng 1 năm 2018, Ann <a@b.c> đã viết:\n> cũ", "Vâng"),
        ("はい\n\n2018年1月1日(月) 10:00 Ann <a@b.c>:\n\n古い", "はい"),
        ("好的\n\n在 2018年1月1日 10:00，Ann <a@b.c> 写道：\n> 旧的", "好的"),
        ("好的\n\n发件人: Ann\n发送时间: 2018年1月1日\n收件人: x\n主题: y\n旧的", "好的"),
        # English variants: Zoho, Gmail's dated header, mobile sign-offs with a link.
        ("Yes\n\n---- On Wed, 24 Feb 2021 14:02:50 +0530 a@b.c wrote ----\n\nold", "Yes"),
        ("Yes\n\n2014-10-17 11:28 GMT+03:00 Ann <a@b.c>:\n\nold", "Yes"),
        ("Yes\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n\nold", "Yes"),
        ("Yes\n\nSent from TypeApp <http://www.typeapp.com/r?b=2621>\nold", "Yes"),
        # The user's own words that look like history, a header block or a sign-off stay.
        *(
            (text, text)
            for text in (
                "Details:\nFrom: Berlin\nTo: Munich\nDate: 12 March\nThe date is wrong.",
                "Hi,\nThe import fails for account 1234 (bob@corp.com):\nbad row 17\nHelp?",
                'Hello,\nOn Monday my colleague wrote:\n"the export is broken"\nand I agree',
                "The webhook is broken.\nSent from our staging server.\nIt returns 500.",
                ">= 5 users, not 3.",
                "-- step one --\nclick export",
                "Works :)",
            )
        ),
        (
            "> Which browser and which version of it are you using at the moment\nsafari\n\nok",
            "safari\n\nok",
        ),
        ("👍\n\nOn Tue, 1 Mar 2011 at 18:02, Ann <a@b.c> wrote:\n> Shall we refund?", "👍"),
        ("I tested it. On 3 May, bob@corp.com wrote:\nold words", "I tested it."),
        ("> old\n" * 40_000 + "My answer, below a long quote.", "My answer, below a long quote."),
    ],
)
def test_trimming_keeps_the_new_words_only(written: str, kept: str) -> None:
    assert trim(written) == kept


def test_html_replies_keep_answers_between_quotes_and_below_them() -> None:
    gmail = (
        '<div>See below.</div><div class="gmail_quote"><div class="gmail_attr">On Tue, 1 Mar'
        " 2011 at 18:02, Ann &lt;a@b.c&gt; wrote:<br></div><blockquote>Which browser?"
        "</blockquote><div>Firefox 120.</div><blockquote>Which system?<blockquote>older"
        "</blockquote></blockquote><div>Linux.</div></div>"
    )
    kept = [line for line in trim(html_to_text(gmail)).split("\n") if line.strip()]
    assert kept == ["See below.", "Firefox 120.", "Linux."]
    assert html_to_text("<blockquote>Only the quote.</blockquote>").strip() == "> Only the quote."


def test_outlook_html_replies_lose_the_history_below_the_separator() -> None:
    document = (
        "<html><body><div>Thanks, fixed.</div>"
        '<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr">'
        "<b>From:</b> Ann<br><b>Sent:</b> Monday</div><div>old words</div></body></html>"
    )
    assert trim(html_to_text(document)) == "Thanks, fixed."
    desktop = (
        "<p>Yes</p><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm'>"
        "<p><b>From:</b> Ann</p></div><p>old words</p>"
    )
    assert trim(html_to_text(desktop)) == "Yes"


def test_trimming_stays_linear_on_crafted_text() -> None:
    """Lines built to make a backtracking pattern explode are read once each."""
    crafted = ("On " + "1 " * 20_000 + "\n") * 5 + "<div class=" * 20_000
    assert trim(crafted).startswith("On 1 1")
    assert trim(html_to_text("<p>new</p>" + crafted)).startswith("new")  # nested past reading


def test_html_only_mail_loses_its_quote_block_and_title() -> None:
    document = (
        "<html><head><title>Mail</title></head><body><p>Yes, <b>that</b> works.</p>"
        '<div class="gmail_quote">On Tue you wrote:<blockquote>old</blockquote></div>'
        "</body></html>"
    )
    assert trim(html_to_text(document)) == "Yes, that works."


def test_mail_that_merely_looks_like_a_reply_or_a_duplicate_is_not_one(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    team(services, app.app_id)
    jobs = client.application.extensions["parley_jobs"]
    first = mail("jo@example.org", f"{app.app_id}@{DOMAIN}", "Where is my invoice?")
    conversation_id = webhook(client, auth, first).get_json()["conversation_id"]
    post(
        client,
        f"/conversations/{conversation_id}/reply",
        auth,
        {"type": "admin", "admin_id": "1", "message_type": "comment", "body": "Resent."},
    )
    emails = outbox_mail(services, jobs, 2)
    (told,) = [m for m in emails if m["To"] == "ann@acme.io"]
    (to_jo,) = [m for m in emails if m["To"] == "jo@example.org"]
    assert told["Auto-Submitted"] == "auto-generated"
    # Someone holding Jo's reply address is not Jo: their email starts their own conversation.
    stranger = webhook(
        client, auth, mail("mallory@evil.io", header(to_jo, "Reply-To"), "I am Jo, honest")
    )
    assert stranger.get_json()["status"] == "started"
    assert stranger.get_json()["conversation_id"] != conversation_id
    # Reusing another email's Message-ID does not make an email a duplicate.
    squatted = mail("mallory@evil.io", f"{app.app_id}@{DOMAIN}", "First!")
    squatted.replace_header("Message-ID", "<real-42@example.org>")
    assert webhook(client, auth, squatted).get_json()["status"] == "started"
    real = mail("jo@example.org", f"{app.app_id}@{DOMAIN}", "My second question")
    real.replace_header("Message-ID", "<real-42@example.org>")
    assert webhook(client, auth, real).get_json()["status"] == "started"
    # Parley's own notification, forwarded back into the inbox, is not posted (no mail loop).
    settle(client.application)  # teammates told of the new ones
    head = log_head(services)
    looped = webhook(client, auth, told.as_bytes())
    assert looped.status_code == 200 and looped.get_json()["status"] == "ignored"
    # A From that only parses with defects names nobody, least of all Ann.
    spoofed = mail("x@y.z", header(told, "Reply-To"), "Close it")
    spoofed.replace_header("From", "ann@acme.io <mallory@evil.io>")
    assert webhook(client, auth, spoofed).status_code == 422
    # Spoofing Ann's reply address with an attachment stores nothing, the bytes included.
    fake = mail("bob@evil.io", header(told, "Reply-To"), "See file", attach=("x.pdf", PDF))
    assert webhook(client, auth, fake).status_code == 422
    assert log_head(services) == head
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(attachments)).scalar() == 0


def test_every_shape_of_mime_email_keeps_its_words_and_files(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    forwarded = mail("ann@old.example", "jo@example.org", "The original problem report")
    outer = EmailMessage()
    outer["From"] = "jo@example.org"
    outer["To"] = f"{app.app_id}@{DOMAIN}"
    outer["Subject"] = "SUBJECT"
    outer["Message-ID"] = make_msgid(domain="mail.example")
    outer.set_content("")  # an empty plain part beside HTML with words
    outer.add_alternative("<p>See the <i>forwarded</i> report.</p>", subtype="html")
    outer.add_attachment(forwarded)  # message/rfc822
    outer.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="..")
    # A subject whose encoded words hide a line break (and a header after it).
    raw = bytes(outer).replace(b"SUBJECT", b"=?utf-8?q?Fwd:_problem=0D=0ABcc:_v@x.io?=", 1)
    posted = webhook(client, auth, raw)
    assert posted.status_code == 200, posted.get_json()
    whole = conversation(client, auth, posted.get_json()["conversation_id"])
    opening = whole["conversation_message"]
    assert opening["body"] == "<p>See the forwarded report.</p>"
    assert opening["subject"] == "Fwd: problem Bcc: v@x.io"  # one line: never a header
    files = {a["name"]: a for a in opening["attachments"]}
    assert set(files) == {"forwarded.eml", "attachment"}
    eml = client.get(files["forwarded.eml"]["url"].replace("http://localhost", ""))
    assert b"The original problem report" in eml.data


def test_an_html_email_that_is_all_quote_is_kept_whole_not_refused(
    client: FlaskClient, auth: dict[str, str], app: CreatedApp, services: Services
) -> None:
    message = EmailMessage()
    message["From"] = "jo@example.org"
    message["To"] = f"{app.app_id}@{DOMAIN}"
    message["Subject"] = "Fwd: refund"
    message["Message-ID"] = make_msgid(domain="mail.example")
    message.set_content("<blockquote>Shall we refund the order?</blockquote>", subtype="html")
    answered = webhook(client, auth, message)
    assert answered.status_code == 200, answered.get_json()
    kept = conversation(client, auth, answered.get_json()["conversation_id"])
    assert "Shall we refund the order?" in kept["conversation_message"]["body"]


def test_emails_recorded_before_the_aggregate_moved_to_the_domain_still_load() -> None:
    from eventsourcing.utils import resolve_topic

    from domain.inbound import InboundEmail

    received = resolve_topic("commands.inbound:InboundEmail.Received")
    assert received is getattr(InboundEmail, "Received")  # noqa: B009 (made by @event)
