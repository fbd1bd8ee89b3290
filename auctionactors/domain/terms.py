"""An auction's terms: what the buyer asks for and the settings it runs under.

The terms travel inside the `auction_created` event (and changes inside `auction_updated`), so an
auction's stream alone rebuilds it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from auctionactors.domain.money import DEFAULT_TICK, Cents
from auctionactors.domain.parties import Party
from auctionactors.domain.timestamps import Instant

Kind = Literal["spot", "forward_fixed", "formula_related"]
Status = Literal["draft", "pending", "open", "decision", "closed", "expired", "canceled"]
FINAL_STATUSES: frozenset[str] = frozenset({"closed", "expired", "canceled"})


class Vessel(msgspec.Struct, frozen=True):
    name: str
    imo: str


class ProductSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One spot product as the buyer asks for it: a vessel and a fuel, a quantity, ETA/ETD."""

    vessel: Vessel
    fuel: str
    quantity_mt: int
    eta: Instant
    etd: Instant | None = None


class Product(msgspec.Struct, frozen=True, kw_only=True):
    """A product with the id the auction gave it (``p1``, ``p2``… in the order listed)."""

    product_id: str
    vessel: Vessel
    fuel: str
    quantity_mt: int
    eta: Instant
    etd: Instant | None = None


def number_products(specs: tuple[ProductSpec, ...]) -> tuple[Product, ...]:
    """Give products their ids: ``p1``.. in order. Deterministic, so replay gives the same ids."""
    return tuple(
        Product(
            product_id=f"p{i}",
            vessel=s.vessel,
            fuel=s.fuel,
            quantity_mt=s.quantity_mt,
            eta=s.eta,
            etd=s.etd,
        )
        for i, s in enumerate(specs, start=1)
    )


class AuctionTerms(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the buyer sets. Defaults are the business's: 10 min bidding, 15 min decision,
    a 180 s soft-close window and a 0.25 price tick (settable so tests can run fast)."""

    kind: Kind = "spot"
    port: str
    buyer: Party
    suppliers: tuple[Party, ...] = ()
    scheduled_start: Instant | None = None
    duration_s: int = 600
    decision_duration_s: int = 900
    soft_close_s: int = 180
    tick: Cents = DEFAULT_TICK
    anonymous_bidding: bool = False
    traded_bids_allowed: bool = False
    po: str | None = None
    buyer_reference: str | None = None
    additional_information: str | None = None
    port_agent: str | None = None
    products: tuple[ProductSpec, ...] = ()


class AuctionChanges(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A partial edit of the terms: only the fields that are set change (the buyer may not
    change itself)."""

    port: str | msgspec.UnsetType = msgspec.UNSET
    suppliers: tuple[Party, ...] | msgspec.UnsetType = msgspec.UNSET
    scheduled_start: Instant | msgspec.UnsetType | None = msgspec.UNSET
    duration_s: int | msgspec.UnsetType = msgspec.UNSET
    decision_duration_s: int | msgspec.UnsetType = msgspec.UNSET
    soft_close_s: int | msgspec.UnsetType = msgspec.UNSET
    tick: Cents | msgspec.UnsetType = msgspec.UNSET
    anonymous_bidding: bool | msgspec.UnsetType = msgspec.UNSET
    traded_bids_allowed: bool | msgspec.UnsetType = msgspec.UNSET
    po: str | msgspec.UnsetType | None = msgspec.UNSET
    buyer_reference: str | msgspec.UnsetType | None = msgspec.UNSET
    additional_information: str | msgspec.UnsetType | None = msgspec.UNSET
    port_agent: str | msgspec.UnsetType | None = msgspec.UNSET
    products: tuple[ProductSpec, ...] | msgspec.UnsetType = msgspec.UNSET

    def apply(self, terms: AuctionTerms) -> AuctionTerms:
        """The terms with these changes made."""
        updates = {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }
        return msgspec.structs.replace(terms, **updates)
