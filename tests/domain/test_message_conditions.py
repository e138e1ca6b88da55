"""What an auto message's conditions may say, and whose emails carry an unsubscribe link (no
I/O): a URL restriction is a page's whole address with `*` for any text, a stop date is
still to come, and the link is the teammate's choice, bulk emails carrying it by default."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.errors import InvalidValue
from tests.domain.test_messages import NOW, compose


@pytest.mark.parametrize(
    "pattern", ["https://app.io/billing*", "*/billing*", "HTTP://APP.IO/", "https://a.io/?q=1"]
)
def test_a_url_pattern_names_whole_addresses(pattern: str) -> None:
    assert compose(url_pattern=pattern).url_pattern == pattern


@pytest.mark.parametrize(
    "pattern", ["billing page", "/billing*", "", "https://app.io/a b", "ftp://x/*", "x" * 3000]
)
def test_a_url_pattern_no_address_could_match_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        compose(url_pattern=pattern)
    assert refused.value.field == "url"


@pytest.mark.parametrize("days", [0, -1, -400])
def test_a_stop_date_that_has_passed_is_refused(days: int) -> None:
    with pytest.raises(InvalidValue) as refused:
        compose(stop_at=int((NOW + timedelta(days=days)).timestamp()))
    assert refused.value.field == "stop_at"


EMAIL: dict[str, Any] = {
    "kind": "manual",
    "message_type": "email",
    "subject": "News",
    "style": "personal",
    "audience": None,
}


def test_the_unsubscribe_link_is_chosen_and_bulk_emails_carry_it_by_default() -> None:
    assert compose(**{**EMAIL, "audience": {"all": []}}).with_unsubscribe_link
    assert not compose(**EMAIL, recipients=["u1"]).with_unsubscribe_link
    assert compose(**EMAIL, recipients=["u1"], unsubscribe_link=True).with_unsubscribe_link
    chosen_off = compose(**{**EMAIL, "audience": {"all": []}}, unsubscribe_link=False)
    assert not chosen_off.with_unsubscribe_link
    # An in-app message has no email footer to choose for.
    assert compose(unsubscribe_link=True).unsubscribe_link is None
