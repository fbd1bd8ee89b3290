"""The frames the server sends (PROTOCOL.md), as msgspec structs: the schema of what
`gateway.protocol` writes, for the published AsyncAPI document (`gateway.asyncapi`) and for the
tests that decode every frame a real server sends with them (so they cannot drift apart).

The server encodes its frames from plain mappings (that is faster, and a view is a document
rendered in parts); these types say what those mappings hold. Unknown fields are allowed
everywhere: later revisions may add fields, never remove or change one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from auctionactors.domain.parties import Role
from auctionactors.domain.terms import Kind, Status
from auctionactors.errors import ErrorCode
from auctionactors.gateway.messages import RequestId

Unset = msgspec.UnsetType
UNSET = msgspec.UNSET
Seq = Annotated[int, msgspec.Meta(ge=0, description="An auction's sequence number.")]
Time = Annotated[str, msgspec.Meta(description="An RFC 3339 UTC instant with a Z suffix.")]
Amount = Annotated[str, msgspec.Meta(description='A decimal amount in USD/MT, e.g. "2.25".')]
View = Annotated[
    dict[str, Any],
    msgspec.Meta(
        title="View",
        description="The receiver's whole view of one auction (PROTOCOL.md, 'The view'): "
        "auction_id, kind, status, port, scheduled_start, closes_at, decision_closes_at, seq, "
        "products, solutions, barges, comments, port_agent; server_time (protocol 1); "
        "status_line for a supplier. Protocol 2: products carry no history.",
    ),
]


class Party(msgspec.Struct, frozen=True):
    id: str
    name: str


class Company(msgspec.Struct, frozen=True):
    id: str
    name: str
    role: Role


class By(msgspec.Struct, frozen=True):
    """Who acted: null for the clock, and for a receiver who may not know."""

    user_id: str
    company_id: str
    admin_id: str | None  # an admin acting as that user


class EventEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An event as a receiver may see it. One it may not see at all is
    ``{seq, type: "redacted"}``: every seq arrives, so gaps are always detectable."""

    seq: Seq
    type: str
    at: Time | Unset = UNSET
    by: By | Unset | None = UNSET
    data: dict[str, Any] | Unset = UNSET


class PatchOperation(msgspec.Struct, frozen=True, kw_only=True):
    """One RFC 6902 operation (the server uses these three)."""

    op: Literal["add", "remove", "replace"]
    path: str
    value: Any | Unset = UNSET


class Welcome(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="welcome"):
    protocol: Literal[1, 2]
    user: Party
    company: Company
    server_time: Time


class Error(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="error"):
    """A refused request (``id`` null when the frame had none that could be read)."""

    id: RequestId | None
    code: ErrorCode
    message: str


class Update(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="update"):
    """Protocol 1: the events of one command (filtered for the receiver) and the whole view
    after them; per auction in strictly increasing ``seq``, never twice."""

    auction_id: str
    seq: Seq
    events: list[EventEntry]
    view: View


class Update2(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="update"):
    """Protocol 2: a subscription's first update carries ``view``, every later one ``patch``
    (RFC 6902, turning the previous view into this one); ``server_time`` beside."""

    auction_id: str
    seq: Seq
    server_time: Time
    events: list[EventEntry]
    view: View | Unset = UNSET
    patch: list[PatchOperation] | Unset = UNSET


class History(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="history"):
    """A catch-up piece (at most 1000 events, in order) before the update of a ``subscribe``
    whose ``since`` is more than 1000 events behind."""

    auction_id: str
    events: list[EventEntry]


class Unsubscribed(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="unsubscribed"):
    """The server ended a subscription (the auction is no longer visible, a catch-up failed)."""

    auction_id: str
    seq: Seq
    code: ErrorCode
    message: str


# --- ok: one result per request ---------------------------------------------------------------


class Ok(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="ok"):
    """Success; the fields depend on the request (the subclasses below)."""

    id: RequestId


class SeqOk(Ok, frozen=True, kw_only=True, tag="ok"):
    """Most commands: the auction's seq once their events are durably stored."""

    seq: Seq


class SubscribeAllOk(Ok, frozen=True, kw_only=True, tag="ok"):
    auctions: list[str] | Unset = UNSET  # protocol 1
    count: int | Unset = UNSET  # protocol 2


class AuctionSummary(msgspec.Struct, frozen=True, kw_only=True):
    auction_id: str
    kind: Kind
    status: Status
    port: str
    buyer: Party
    scheduled_start: Time | None
    closes_at: Time | None


class ListAuctionsOk(Ok, frozen=True, kw_only=True, tag="ok"):
    auctions: list[AuctionSummary]
    next_cursor: str | None


class GetViewOk(Ok, frozen=True, kw_only=True, tag="ok"):
    seq: Seq
    view: View
    server_time: Time | Unset = UNSET  # protocol 2


class GetEventsOk(Ok, frozen=True, kw_only=True, tag="ok"):
    events: list[EventEntry]
    seq: Seq
    next_since: Seq | None


class ListCompaniesOk(Ok, frozen=True, kw_only=True, tag="ok"):
    companies: list[Company]
    next_cursor: str | None


class Actors(msgspec.Struct, frozen=True):
    live: int
    passivated: int
    restarting: int
    quarantined: int


class OperatorStatusOk(Ok, frozen=True, kw_only=True, tag="ok"):
    actors: Actors
    scheduled: int
    commits: int
    committed: int
    restarts: int
    quarantines: int
    connections: int
    troubled: list[dict[str, Any]]


class OperatorReviveOk(Ok, frozen=True, kw_only=True, tag="ok"):
    auction_id: str
    status: str


class CreateAuctionOk(SeqOk, frozen=True, kw_only=True, tag="ok"):
    auction_id: str
    product_ids: list[str]


class PlaceBidsOk(SeqOk, frozen=True, kw_only=True, tag="ok"):
    bid_ids: list[str]


class PostCommentOk(SeqOk, frozen=True, kw_only=True, tag="ok"):
    comment_id: str


# The ok of each request type (any other command: `SeqOk`).
OK_OF: dict[str, type[Ok]] = {
    "subscribe": SeqOk,
    "unsubscribe": Ok,
    "subscribe_all": SubscribeAllOk,
    "list_auctions": ListAuctionsOk,
    "get_view": GetViewOk,
    "get_events": GetEventsOk,
    "list_companies": ListCompaniesOk,
    "operator_status": OperatorStatusOk,
    "operator_revive": OperatorReviveOk,
    "create_auction": CreateAuctionOk,
    "place_bids": PlaceBidsOk,
    "post_comment": PostCommentOk,
}

PUSHES: tuple[type[msgspec.Struct], ...] = (Update, Update2, History, Unsubscribed)
