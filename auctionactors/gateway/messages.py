"""The frames clients send (PROTOCOL.md, "Requests"), as msgspec structs.

One tagged union, discriminated by ``type``, so a frame is parsed and type-checked in one pass
and every refusal names the offending field (``Expected `int`, got `str` - at `$.since```).
Values stay in the wire notation here (amounts as decimal strings or numbers, times as RFC 3339
strings); `translate` turns them into domain values. Unknown fields are ignored, so clients
written against a later protocol revision that adds fields keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec

from auctionactors.domain.terms import Kind, Status
from auctionactors.errors import DomainError

RequestId = str | int
# A decimal string ("2.25") or a JSON number (2.25); converted exactly by `parse_amount`.
Amount = str | int | float
# A number of seconds: an integer, or a decimal with at most millisecond precision (0.5, 90.125),
# kept as sent; its bounds are the domain's (`domain.bounds`), refused ``invalid``.
Seconds = int | float
# A seq: at most 2**53 - 1 (what every JSON reader holds exactly; SQLite's integers hold it too,
# so `since + 1` never overflows a query).
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
PageLimit = Annotated[int, msgspec.Meta(ge=1, le=1000)]
SolutionName = Literal["best_overall", "best_single_supplier"]
RsvpResponse = Literal["yes", "no", "maybe"]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class Frame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every client frame."""


class Hello(Frame, frozen=True, kw_only=True, tag="hello"):
    token: str
    id: RequestId | None = None
    protocol: Literal[1, 2] = 1  # what the client speaks (PROTOCOL.md, "Protocol 2")


class Request(Frame, frozen=True, kw_only=True):
    """Base of every request: the client-chosen ``id`` is echoed in the reply."""

    id: RequestId


class AuctionRequest(Request, frozen=True, kw_only=True):
    auction_id: str


# --- reads and subscriptions ------------------------------------------------------------------


class Subscribe(AuctionRequest, frozen=True, kw_only=True, tag="subscribe"):
    since: Count | None = None


class Unsubscribe(AuctionRequest, frozen=True, kw_only=True, tag="unsubscribe"):
    pass


class SubscribeAll(Request, frozen=True, kw_only=True, tag="subscribe_all"):
    # Protocol 2 only (`dispatch` checks it: a protocol 1 client's unknown field is ignored).
    statuses: Any = None


# What `subscribe_all` subscribes a protocol 2 client to when it names no statuses.
DEFAULT_STATUSES: frozenset[str] = frozenset({"draft", "pending", "open", "decision"})


def statuses_of(value: Any) -> frozenset[str]:
    """A protocol 2 ``subscribe_all``'s ``statuses`` (None: `DEFAULT_STATUSES`); `DomainError`
    ``bad_request`` for anything but a list of statuses."""
    if value is None:
        return DEFAULT_STATUSES
    try:
        listed = msgspec.convert(value, list[Status])
    except msgspec.ValidationError as exc:
        where = str(exc).replace("`$", "`$.statuses")
        raise DomainError(
            "bad_request", where if "`$.statuses" in where else f"{where} - at `$.statuses`"
        ) from None
    return frozenset(listed)


class ListAuctions(Request, frozen=True, kw_only=True, tag="list_auctions"):
    status: list[Status] | None = None
    limit: PageLimit = 100
    # Opaque (`listing.decode_cursor`): the ``next_cursor`` of the previous page.
    cursor: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class GetView(AuctionRequest, frozen=True, kw_only=True, tag="get_view"):
    pass


class GetEvents(AuctionRequest, frozen=True, kw_only=True, tag="get_events"):
    since: Count = 0
    limit: Limit = 1000


class OperatorStatus(Request, frozen=True, kw_only=True, tag="operator_status"):
    pass


class OperatorRevive(AuctionRequest, frozen=True, kw_only=True, tag="operator_revive"):
    pass


# --- commands ---------------------------------------------------------------------------------


class VesselIn(msgspec.Struct, frozen=True):
    name: str
    imo: str


class ProductIn(msgspec.Struct, frozen=True, kw_only=True):
    vessel: VesselIn
    fuel: str
    quantity_mt: int
    eta: str
    etd: str | None = None


class AuctionIn(msgspec.Struct, frozen=True, kw_only=True):
    """The ``auction`` object of ``create_auction`` (suppliers are company ids)."""

    kind: Kind = "spot"
    port: str
    suppliers: list[str] = []
    scheduled_start: str | None = None
    duration_s: Seconds = 600
    decision_duration_s: Seconds = 900
    soft_close_s: Seconds = 180
    tick: Amount = "0.25"
    anonymous_bidding: bool = False
    traded_bids_allowed: bool = False
    po: str | None = None
    buyer_reference: str | None = None
    additional_information: str | None = None
    port_agent: str | None = None
    products: list[ProductIn] = []
    fuel: str | None = None
    quantity_mt_per_month: int | None = None
    start_month: str | None = None
    end_month: str | None = None
    fuel_index: str | None = None


class ChangesIn(msgspec.Struct, frozen=True, kw_only=True):
    """The ``changes`` of ``update_auction``: any field of `AuctionIn` but ``kind``; an absent
    field is left as it is, a null one is cleared."""

    port: str | Unset = UNSET
    suppliers: list[str] | Unset = UNSET
    scheduled_start: str | Unset | None = UNSET
    duration_s: Seconds | Unset = UNSET
    decision_duration_s: Seconds | Unset = UNSET
    soft_close_s: Seconds | Unset = UNSET
    tick: Amount | Unset = UNSET
    anonymous_bidding: bool | Unset = UNSET
    traded_bids_allowed: bool | Unset = UNSET
    po: str | Unset | None = UNSET
    buyer_reference: str | Unset | None = UNSET
    additional_information: str | Unset | None = UNSET
    port_agent: str | Unset | None = UNSET
    products: list[ProductIn] | Unset = UNSET
    fuel: str | Unset | None = UNSET
    quantity_mt_per_month: int | Unset | None = UNSET
    start_month: str | Unset | None = UNSET
    end_month: str | Unset | None = UNSET
    fuel_index: str | Unset | None = UNSET


class BidIn(msgspec.Struct, frozen=True, kw_only=True):
    product_id: str
    amount: Amount | None = None
    min_amount: Amount | None = None
    allow_split: bool = True
    comment: str | None = None


class BargeIn(msgspec.Struct, frozen=True):
    name: str
    imo: str


# An idempotency key (PROTOCOL.md 1.1): 1-64 printable ASCII characters.
IdempotencyKey = Annotated[str, msgspec.Meta(pattern=r"^[\x20-\x7e]{1,64}$(?!\n)")]


class Command(Request, frozen=True, kw_only=True):
    """A request that changes an auction. An admin may act as another user (``as_user``).
    ``key`` makes it idempotent: a repeat with the same key is answered, not applied again."""

    as_user: str | None = None
    key: IdempotencyKey | None = None


class AuctionCommand(Command, frozen=True, kw_only=True):
    auction_id: str


class CreateAuction(Command, frozen=True, kw_only=True, tag="create_auction"):
    auction: AuctionIn
    buyer: str | None = None  # an admin names the buyer company


class UpdateAuction(AuctionCommand, frozen=True, kw_only=True, tag="update_auction"):
    changes: ChangesIn


class StartAuction(AuctionCommand, frozen=True, kw_only=True, tag="start_auction"):
    pass


class CancelAuction(AuctionCommand, frozen=True, kw_only=True, tag="cancel_auction"):
    pass


class PlaceBids(AuctionCommand, frozen=True, kw_only=True, tag="place_bids"):
    bids: list[BidIn]
    traded: bool = False


class RevokeBid(AuctionCommand, frozen=True, kw_only=True, tag="revoke_bid"):
    product_id: str


class SelectSolution(AuctionCommand, frozen=True, kw_only=True, tag="select_solution"):
    bid_ids: list[str] | None = None
    solution: SolutionName | None = None
    comment: str | None = None
    port_agent: str | None = None


class SubmitBarge(AuctionCommand, frozen=True, kw_only=True, tag="submit_barge"):
    barge: BargeIn


class UnsubmitBarge(AuctionCommand, frozen=True, kw_only=True, tag="unsubmit_barge"):
    imo: str


class ApproveBarge(AuctionCommand, frozen=True, kw_only=True, tag="approve_barge"):
    imo: str
    supplier_id: str


class RejectBarge(AuctionCommand, frozen=True, kw_only=True, tag="reject_barge"):
    imo: str
    supplier_id: str


class PostComment(AuctionCommand, frozen=True, kw_only=True, tag="post_comment"):
    text: str


class DeleteComment(AuctionCommand, frozen=True, kw_only=True, tag="delete_comment"):
    comment_id: str


class Rsvp(AuctionCommand, frozen=True, kw_only=True, tag="rsvp"):
    response: RsvpResponse


class InviteObserver(AuctionCommand, frozen=True, kw_only=True, tag="invite_observer"):
    company_id: str


class UninviteObserver(AuctionCommand, frozen=True, kw_only=True, tag="uninvite_observer"):
    company_id: str


AnyFrame = (
    Hello
    | Subscribe
    | Unsubscribe
    | SubscribeAll
    | ListAuctions
    | GetView
    | GetEvents
    | OperatorStatus
    | OperatorRevive
    | CreateAuction
    | UpdateAuction
    | StartAuction
    | CancelAuction
    | PlaceBids
    | RevokeBid
    | SelectSolution
    | SubmitBarge
    | UnsubmitBarge
    | ApproveBarge
    | RejectBarge
    | PostComment
    | DeleteComment
    | Rsvp
    | InviteObserver
    | UninviteObserver
)


def frame_type(frame: Frame) -> str:
    """The ``type`` of a frame, e.g. ``place_bids``."""
    tag = type(frame).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


REQUEST_TYPES: frozenset[str] = frozenset(
    str(cls.__struct_config__.tag) for cls in get_args(AnyFrame) if cls is not Hello
)
