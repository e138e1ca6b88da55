"""`POST /companies`: create or update a company by its company_id (or Parley's id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from commands.clock import Clock
from commands.errors import CompanyNotFound
from commands.handling import handle
from commands.store import Parley
from commands.tags import change_many
from commands.users import CompanyInput, resolve_company
from domain.company import Company
from domain.identity import company_key
from domain.user import User


@dataclass(frozen=True)
class SaveCompany:
    app_id: str
    company: CompanyInput


@dataclass(frozen=True)
class SavedCompany:
    company: Company
    position: int


def save_company(cmd: SaveCompany, store: Parley, clock: Clock) -> SavedCompany:
    given = resolve_company(store, cmd.app_id, cmd.company)
    company = store.get_as(Company, company_key(cmd.app_id, given.company_id))
    if company is None:
        company = Company(app_id=cmd.app_id, company_id=given.company_id, at=clock.now())
    elif company.deleted:
        company.restore(at=clock.now())
    company.update(given.attributes, given.custom)
    return SavedCompany(company, store.save_all(company))


@dataclass(frozen=True)
class DeleteCompany:
    """The company goes at once (lists, counts and filters stop showing it), then each of its
    users leaves it, so their histories say so too."""

    app_id: str
    id: str  # Parley's id
    user_ids: Sequence[str]  # its users now (the web layer reads them from the projection)


def drop_company(cmd: DeleteCompany, store: Parley, clock: Clock) -> int:
    company = live_company(store, cmd.app_id, cmd.id)
    company.delete(at=clock.now())
    return store.save_all(company)


def delete_company(cmd: DeleteCompany, store: Parley, clock: Clock) -> int:
    """Several transactions: called directly, not through `handle`."""
    position = handle(drop_company, cmd, store, clock)
    member_of = cmd.id
    left = change_many(
        store, clock, User, cmd.user_ids, lambda u: u.leave_company(member_of, by="api")
    )
    return max(position, left)


def live_company(store: Parley, app_id: str, public_id: str) -> Company:
    try:
        company = store.get_as(Company, UUID(hex=public_id))
    except ValueError:
        company = None
    if company is None or company.app_id != app_id or company.deleted:
        raise CompanyNotFound(f"id {public_id!r}")
    return company
