"""The relationship score (seed: "Relationship"): how much personal contact a user has had."""

from __future__ import annotations

RELATIONSHIP_MONTH = 30 * 86_400  # seconds


def relationship_half(at: int | None, now: int) -> int:
    """50 for a message within the last 30 days, 5 points less for each month older."""
    if at is None:
        return 0
    months = max(0, now - at) // RELATIONSHIP_MONTH
    return max(0, 50 - 5 * months)


def relationship_score(sent_at: int | None, received_at: int | None, now: int) -> int:
    """Personal contact (seed: "Relationship"): half for the last message sent to the user,
    half for the last one received from them; 100 means both within 30 days."""
    return relationship_half(sent_at, now) + relationship_half(received_at, now)
