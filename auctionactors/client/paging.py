"""Paged reads as async iterators (PROTOCOL.md 1.1, Paging): each follows the server's
``next_cursor`` / ``next_since`` and yields items, one page requested at a time, so a caller
never holds more than a page and never sees the paging. `Client` has these as methods;
``request`` stays the raw call (one page, as the server answers it).

Against a server without paging (no ``next_cursor`` / ``next_since`` in the reply) the first
page is the whole answer, except for ``get_events``, which then pages by the last seq received
while pages come back full (the way protocol-1 clients paged it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


class Paging:
    """The paged reads, on top of ``request`` (the `Client`'s)."""

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def list_auctions(
        self, status: list[str] | None = None, *, limit: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every visible auction's summary (of ``status`` if given), newest first; ``limit``:
        the page size asked for (the server's default if None)."""
        fields = _given(status=status, limit=limit)
        async for item in self._pages("list_auctions", "auctions", fields):
            yield item

    async def list_companies(
        self, role: str | None = None, *, limit: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Supplier and observer companies (an admin: all), of ``role`` if given."""
        fields = _given(role=role, limit=limit)
        async for item in self._pages("list_companies", "companies", fields):
            yield item

    async def get_events(
        self, auction_id: str, since: int = 0, *, limit: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The auction's events after ``since``, in order, as the receiver may see them."""
        fields = _given(auction_id=auction_id, limit=limit)
        while True:
            reply = await self.request("get_events", **fields, since=since)
            events: list[dict[str, Any]] = reply.get("events", [])
            for event in events:
                yield event
            if "next_since" in reply:
                if reply["next_since"] is None:
                    return
                since = int(reply["next_since"])
            elif events and len(events) >= (limit or 1000):
                since = int(events[-1]["seq"])
            else:
                return

    async def _pages(
        self, type_: str, items: str, fields: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            page = {} if cursor is None else {"cursor": cursor}
            reply = await self.request(type_, **fields, **page)
            for item in reply.get(items, ()):
                yield item
            cursor = reply.get("next_cursor")
            if cursor is None:
                return


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
