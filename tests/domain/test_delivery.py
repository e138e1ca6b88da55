"""The Delivery aggregate: one email to one user, sent at most once (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.delivery import CLAIMED, SENT, SKIPPED, UNCERTAIN, Delivery
from tests.domain.given import recorded, settled

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def claimed(queued: bool = True) -> Delivery:
    found = Delivery(
        message_id="m" * 32, user_key="u" * 32, channel="email", content_version=0, at=NOW,
        queued=queued,
    )  # fmt: skip
    return settled(found)  # type: ignore[return-value]


def test_a_claim_is_sent_once_and_a_send_cut_off_is_never_repeated() -> None:
    delivery = claimed()
    assert delivery.state == CLAIMED and delivery.may_send
    delivery.sending(NOW)
    assert not delivery.may_send  # a second worker finding it here gives up
    delivery.uncertain(NOW)
    assert delivery.state == UNCERTAIN and not delivery.may_send
    delivery.sent(NOW)  # the server's late answer still counts
    assert [name for name, _ in recorded(delivery)] == ["Sending", "Uncertain", "Sent"]
    assert delivery.state == SENT


def test_a_refusal_may_be_tried_again_and_a_skip_ends_it_only_before_sending() -> None:
    delivery = claimed()
    delivery.sending(NOW)
    delivery.deferred("451 try later", NOW)
    assert delivery.may_send and delivery.last_error == "451 try later"
    delivery.skip("unsubscribed", NOW)
    assert delivery.state == SKIPPED and not delivery.may_send
    settled(delivery)
    delivery.skip("again", NOW)
    assert recorded(delivery) == []


def test_opens_count_once_and_a_click_shows_the_email_was_opened() -> None:
    delivery = claimed()
    delivery.click("https://acme.io/a", NOW)
    delivery.open(NOW)
    delivery.click("https://acme.io/b", NOW)
    events = recorded(delivery)
    assert [name for name, _ in events] == ["Opened", "Clicked", "Clicked"]
    assert [fields["first"] for name, fields in events if name == "Clicked"] == [True, False]
