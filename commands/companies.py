"""`POST /companies`: create or update a company by its company_id (or Parley's id)."""

from __future__ import annotations

from dataclasses import dataclass

from commands.clock import Clock
from commands.store import Parley
from commands.users import CompanyInput, resolve_company
from domain.company import Company
from domain.identity import company_key


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
    company.update(given.attributes, given.custom)
    return SavedCompany(company, store.save_all(company))
