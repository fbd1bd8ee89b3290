"""The domain in the protocol's notation: amounts as decimal strings, instants as RFC 3339.

Internally money is integer cents and time integer microseconds (exact, cheap to replay); what
leaves the system (WebSocket frames, the command line's output) uses the public notation of
PROTOCOL.md. The conversion is by field name, and these names mean the same thing everywhere.
"""

from __future__ import annotations

from typing import Any

import msgspec

from auctionactors.domain.events import Event, event_type
from auctionactors.domain.money import format_amount
from auctionactors.domain.state import EMPTY_HISTORY, AuctionState
from auctionactors.domain.timestamps import format_instant

MONEY_FIELDS = frozenset({"amount", "min_amount", "total_price", "tick", "winning_total"})
INSTANT_FIELDS = frozenset(
    {
        "at",
        "scheduled_start",
        "closes_at",
        "decision_closes_at",
        "eta",
        "etd",
        "original_time_entered",
        "placed_at",
        "created_at",
        "started_at",
        "ended_at",
        "server_time",
    }
)


def to_public(value: Any, key: str | None = None) -> Any:
    """Convert builtins (from `msgspec.to_builtins`) to the protocol's notation, recursively.

    Every view of every update goes through here (a fan-out renders one per receiver), so the
    common cases are tested by exact type first and leaves are converted without a call; the
    ``isinstance`` checks at the end keep subclasses (an ``IntEnum``) converted as before."""
    cls = type(value)
    if cls is dict:
        out = {}
        for k, v in value.items():
            vcls = type(v)
            if vcls is str or v is None or vcls is bool or vcls is float:
                out[k] = v
            elif vcls is int:
                out[k] = _public_int(v, k)
            else:
                out[k] = to_public(v, k)
        return out
    if cls is list or cls is tuple:
        return [to_public(v, key) for v in value]
    if cls is int:
        return _public_int(value, key)
    if cls is str or value is None or cls is bool or cls is float:
        return value
    if isinstance(value, dict):
        return {k: to_public(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_public(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return _public_int(value, key)
    return value


def _public_int(value: int, key: str | None) -> Any:
    if key in MONEY_FIELDS:
        return format_amount(value)
    if key in INSTANT_FIELDS:
        return format_instant(value)
    return value


def event_entry(seq: int, event: Event) -> dict[str, Any]:
    """An event as PROTOCOL.md's ``{seq, type, at, by, data}`` (complete, as an admin sees it)."""
    raw = msgspec.to_builtins(event)
    raw.pop("type", None)
    at = raw.pop("at")
    by = raw.pop("by")
    return {
        "seq": seq,
        "type": event_type(event),
        "at": format_instant(at),
        "by": by,
        "data": to_public(raw),
    }


def state_document(state: AuctionState) -> dict[str, Any]:
    """The whole state (nothing filtered) in public notation, for operators' replay output:
    ``bids`` is every bid ever placed, by id, in the order placed, with whether it is live
    (the state keeps the history apart, encoded, and its bids as arrays)."""
    rest = msgspec.structs.replace(state, bids={}, history_raw=EMPTY_HISTORY, history_new=[])
    raw: dict[str, Any] = msgspec.to_builtins(rest)
    del raw["history_raw"], raw["history_new"]
    raw["bids"] = {
        bid.bid_id: {
            **{name: getattr(bid, name) for name in bid.__struct_fields__},
            "active": state.is_live(bid),
        }
        for bid in state.history()
    }
    doc: dict[str, Any] = to_public(raw)
    doc["ranking"] = {
        product_id: [bid.bid_id for bid in state.ranked(product_id)]
        for product_id in state.products
    }
    return doc
