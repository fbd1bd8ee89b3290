"""Protocol 1's whole views built and encoded in pieces (`domain.whole`), so that a view of an
auction with a long history (a subscription's first update, ``get_view``, a resync's update)
never holds up the other connections for more than a piece (PROTOCOL.md 1.1, "Fair sharing").

Each piece of the history is encoded as it is rendered, and each product's ``history`` goes
into the frame as the JSON already made (`msgspec.Raw`, inserted as is): the frame's bytes are
exactly those of encoding `views.view`'s document at once (tests/gateway/test_whole.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from auctionactors.domain.whole import WholeView
from auctionactors.gateway import protocol

View = dict[str, Any] | WholeView  # a view, or a protocol-1 whole view still to be rendered


async def rendered(view: View) -> dict[str, Any]:
    """``view`` ready to encode: a `WholeView`'s history pieces rendered and encoded one turn
    of the event loop at a time."""
    if not isinstance(view, WholeView):
        return view
    encoded: list[list[bytes]] = [[] for _ in view.doc["products"]]
    for piece in view.pieces():
        for at, entries in piece.items():
            encoded[at].append(protocol.encode_items(entries))
        await asyncio.sleep(0)
    return view.filled([msgspec.Raw(b"[" + b",".join(parts) + b"]") for parts in encoded])


async def answered(answer: dict[str, Any]) -> dict[str, Any]:
    """A ``get_view`` answer (`patching.present`) with its ``view`` `rendered`."""
    answer["view"] = await rendered(answer["view"])
    return answer
