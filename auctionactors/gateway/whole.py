"""Protocol 1's whole views built and encoded in pieces (`domain.whole`), so that a view of an
auction with a long history (a subscription's first update, ``get_view``, a resync's update)
never holds up the other connections for more than a piece (PROTOCOL.md 1.1, "Fair sharing"):
a turn of the event loop after each piece. The frame's bytes are exactly those of encoding
`views.view`'s document at once (tests/gateway/test_whole.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from auctionactors.domain.whole import WholeView

View = dict[str, Any] | WholeView  # a view, or a protocol-1 whole view still to be rendered


async def encoded(view: View, frame: Callable[[dict[str, Any]], bytes]) -> bytes:
    """``frame(view)``: with a `WholeView`, its history rendered and encoded a piece per turn
    of the event loop."""
    if not isinstance(view, WholeView):
        return frame(view)
    for _ in view.pieces():
        await asyncio.sleep(0)
    return view.frame(frame)
