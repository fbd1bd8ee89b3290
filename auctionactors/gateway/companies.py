"""``list_companies`` (PROTOCOL.md 1.1): the companies a buyer may invite (suppliers, and
observers), paged like ``list_auctions``; admins list every company, buyers and admins included.

A page's cursor is opaque to clients: the id of the last company listed, base64url-encoded. The
next page starts after that company's (name, id), the order the store lists companies in; a
company is never renamed nor deleted, so a cursor stays valid while companies are added.
"""

from __future__ import annotations

import re
from typing import Any

from auctionactors.domain.access import Viewer
from auctionactors.domain.parties import ROLES, Role
from auctionactors.errors import DomainError
from auctionactors.gateway.listing import opaque, unopaque
from auctionactors.store.base import Accounts, Company

# What a buyer may list: the companies it may name in an auction.
FOR_BUYERS: tuple[Role, ...] = ("supplier", "observer")
_ID = re.compile(r"[\x21-\x7e]{1,128}")
_BAD_CURSOR = "cursor is not one a list_companies reply gave"


def encode_cursor(company: Company) -> str:
    return opaque(company.company_id)


def decode_cursor(cursor: str) -> str:
    """The company id a cursor names; `DomainError` ``invalid`` for a string that is not a
    cursor this server gives."""
    company_id = unopaque(cursor) or ""
    if not _ID.fullmatch(company_id):
        raise DomainError("invalid", _BAD_CURSOR)
    return company_id


def roles_for(viewer: Viewer, role: Role | None) -> tuple[Role, ...]:
    """The roles ``viewer`` lists (one if ``role`` is given): `forbidden` for suppliers and
    observers, and for a buyer asking for buyers or admins."""
    if viewer.role == "admin":
        return ROLES if role is None else (role,)
    if viewer.role != "buyer":
        raise DomainError("forbidden", "only buyers and admins may list companies")
    if role is None:
        return FOR_BUYERS
    if role not in FOR_BUYERS:
        raise DomainError("forbidden", "buyers list supplier and observer companies only")
    return (role,)


async def page(
    accounts: Accounts, viewer: Viewer, role: Role | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """``list_companies``' result: up to ``limit`` companies by name from ``cursor``, and
    ``next_cursor`` (None after the last page)."""
    roles = roles_for(viewer, role)
    after = None
    if cursor is not None:
        last = await accounts.company(decode_cursor(cursor))
        if last is None:
            raise DomainError("invalid", _BAD_CURSOR)
        after = (last.name, last.company_id)
    rows = await accounts.companies(roles=roles, after=after, limit=limit + 1)
    listed, more = rows[:limit], len(rows) > limit
    return {
        "companies": [{"id": c.company_id, "name": c.name, "role": c.role} for c in listed],
        "next_cursor": encode_cursor(listed[-1]) if more else None,
    }
