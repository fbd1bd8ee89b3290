"""An auction's terms: what the buyer asks for and the settings it runs under.

The terms travel inside the `auction_created` event (and changes inside `auction_updated`), so an
auction's stream alone rebuilds it.
"""

from __future__ import annotations

import re
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


Month = str  # "YYYY-MM"
Seconds = int | float  # as the client sent it: 600, or 90.125 (at most ms precision)


class ProductSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One spot product as the buyer asks for it: a vessel and a fuel, a quantity, ETA/ETD."""

    vessel: Vessel
    fuel: str
    quantity_mt: int
    eta: Instant
    etd: Instant | None = None


class Product(msgspec.Struct, frozen=True, kw_only=True):
    """A product with the id the auction gave it (``p1``, ``p2``… in the order listed).

    A term auction has one product: its fuel over a month range, ``quantity_mt`` being the
    whole quantity (per month times months); it has no vessel and no ETA."""

    product_id: str
    vessel: Vessel | None
    fuel: str
    quantity_mt: int
    eta: Instant | None
    etd: Instant | None = None
    quantity_mt_per_month: int | None = None
    start_month: Month | None = None
    end_month: Month | None = None
    fuel_index: str | None = None


def month_count(start: Month, end: Month) -> int:
    """Months from ``start`` to ``end`` inclusive ("2027-01".."2027-03" is 3); ValueError if
    either is not ``YYYY-MM``."""
    (sy, sm), (ey, em) = (parse_month(start), parse_month(end))
    return (ey - sy) * 12 + (em - sm) + 1


def parse_month(text: Month) -> tuple[int, int]:
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"not a YYYY-MM month: {text!r}")
    return int(match[1]), int(match[2])


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)


def term_product(terms: AuctionTerms) -> Product:
    """The single product of a term auction."""
    assert terms.fuel is not None and terms.quantity_mt_per_month is not None
    assert terms.start_month is not None and terms.end_month is not None
    months = month_count(terms.start_month, terms.end_month)
    return Product(
        product_id="p1",
        vessel=None,
        fuel=terms.fuel,
        quantity_mt=terms.quantity_mt_per_month * months,
        eta=None,
        quantity_mt_per_month=terms.quantity_mt_per_month,
        start_month=terms.start_month,
        end_month=terms.end_month,
        fuel_index=terms.fuel_index,
    )


def products_of(terms: AuctionTerms) -> tuple[Product, ...]:
    """The auction's products with their ids; deterministic, so replay gives the same ids."""
    if terms.kind == "spot":
        return number_products(terms.products)
    if terms.fuel is None or terms.quantity_mt_per_month is None:
        return ()
    if terms.start_month is None or terms.end_month is None:
        return ()
    return (term_product(terms),)


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
    duration_s: Seconds = 600
    decision_duration_s: Seconds = 900
    soft_close_s: Seconds = 180
    tick: Cents = DEFAULT_TICK
    anonymous_bidding: bool = False
    traded_bids_allowed: bool = False
    po: str | None = None
    buyer_reference: str | None = None
    additional_information: str | None = None
    port_agent: str | None = None
    products: tuple[ProductSpec, ...] = ()
    # Term auctions (forward_fixed, formula_related): one fuel over a month range.
    fuel: str | None = None
    quantity_mt_per_month: int | None = None
    start_month: Month | None = None
    end_month: Month | None = None
    fuel_index: str | None = None

    @property
    def is_term(self) -> bool:
        return self.kind != "spot"


class AuctionChanges(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A partial edit of the terms: only the fields that are set change (the buyer may not
    change itself)."""

    port: str | msgspec.UnsetType = msgspec.UNSET
    suppliers: tuple[Party, ...] | msgspec.UnsetType = msgspec.UNSET
    scheduled_start: Instant | msgspec.UnsetType | None = msgspec.UNSET
    duration_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    decision_duration_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    soft_close_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    tick: Cents | msgspec.UnsetType = msgspec.UNSET
    anonymous_bidding: bool | msgspec.UnsetType = msgspec.UNSET
    traded_bids_allowed: bool | msgspec.UnsetType = msgspec.UNSET
    po: str | msgspec.UnsetType | None = msgspec.UNSET
    buyer_reference: str | msgspec.UnsetType | None = msgspec.UNSET
    additional_information: str | msgspec.UnsetType | None = msgspec.UNSET
    port_agent: str | msgspec.UnsetType | None = msgspec.UNSET
    products: tuple[ProductSpec, ...] | msgspec.UnsetType = msgspec.UNSET
    fuel: str | msgspec.UnsetType | None = msgspec.UNSET
    quantity_mt_per_month: int | msgspec.UnsetType | None = msgspec.UNSET
    start_month: Month | msgspec.UnsetType | None = msgspec.UNSET
    end_month: Month | msgspec.UnsetType | None = msgspec.UNSET
    fuel_index: str | msgspec.UnsetType | None = msgspec.UNSET

    def changes_products(self) -> bool:
        return any(
            getattr(self, name) is not msgspec.UNSET
            for name in (
                "products",
                "fuel",
                "quantity_mt_per_month",
                "start_month",
                "end_month",
                "fuel_index",
            )
        )

    def apply(self, terms: AuctionTerms) -> AuctionTerms:
        """The terms with these changes made."""
        updates = {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }
        return msgspec.structs.replace(terms, **updates)
