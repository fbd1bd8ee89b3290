"""Who may see and do what in an auction: the checks every command and view starts with.

A company that is not invited learns nothing, not even that the auction exists (``not_found``);
one that can see the auction but lacks the role gets ``forbidden``.
"""

from __future__ import annotations

import msgspec

from auctionactors.domain.parties import Caller, Role
from auctionactors.domain.state import AuctionState
from auctionactors.errors import DomainError

NOT_FOUND = "auction not found"


class Viewer(msgspec.Struct, frozen=True):
    """A receiver: a company and its role (all users of a company see the same)."""

    company_id: str
    role: Role


def can_see(state: AuctionState, viewer: Viewer | Caller) -> bool:
    if viewer.role == "admin" or viewer.company_id == state.terms.buyer.id:
        return True
    if state.status == "draft":
        return False
    if viewer.role == "supplier":
        return state.is_supplier(viewer.company_id)
    if viewer.role == "observer":
        return viewer.company_id in state.observers
    return False


def audience(state: AuctionState, viewer: Viewer | Caller) -> str:
    """The kind of view a viewer gets: admin, buyer, observer or supplier."""
    if viewer.role == "admin":
        return "admin"
    if viewer.company_id == state.terms.buyer.id:
        return "buyer"
    if viewer.role == "observer":
        return "observer"
    return "supplier"


def require_visible(state: AuctionState, caller: Caller) -> None:
    if not can_see(state, caller):
        raise DomainError("not_found", NOT_FOUND)


def require_buyer_or_admin(state: AuctionState, caller: Caller) -> None:
    if caller.role == "admin":
        return
    if caller.role == "buyer" and caller.company_id == state.terms.buyer.id:
        return
    require_visible(state, caller)
    raise DomainError("forbidden", "only the auction's buyer or an admin may do this")


def require_admin(state: AuctionState, caller: Caller, what: str) -> None:
    if caller.role == "admin":
        return
    require_visible(state, caller)
    raise DomainError("forbidden", f"only an admin may {what}")


def require_invited_supplier(state: AuctionState, caller: Caller) -> None:
    require_visible(state, caller)
    if caller.role != "supplier" or not state.is_supplier(caller.company_id):
        raise DomainError("forbidden", "only an invited supplier may do this")


def wrong_status(what: str, status: str) -> DomainError:
    return DomainError("wrong_status", f"{what} when the auction is {status}")
