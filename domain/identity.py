"""Deterministic aggregate ids, so a ping can load its user without a lookup first."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d3c2e-5a0b-4c8e-9d37-1b2a3c4d5e6f")


def app_key(app_id: str) -> UUID:
    return uuid5(NAMESPACE, f"app/{app_id}")


def user_id_key(app_id: str, user_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/user_id/{user_id}")


def email_key(app_id: str, email: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/email/{email.strip().lower()}")


def company_key(app_id: str, company_id: str) -> UUID:
    return uuid5(NAMESPACE, f"{app_id}/company/{company_id}")


def account_key(email: str) -> UUID:
    """A teammate's sign-in, one per email address across every app."""
    return uuid5(NAMESPACE, f"account/{email.strip().lower()}")
