"""What the gateway reads of the store's catalog (one row per auction, written with its events):
``list_auctions`` pages, the ids ``subscribe_all`` starts from, a buyer's unfinished auctions
for the creation quota, and the number of auctions for health and metrics.

Nothing here loads an actor or keeps a summary of every auction in memory (DESIGN.md, "Costs
grow with change, not with history"). Visibility is the store's ``reader`` filter: a row lists
the companies `summarize` found allowed to see it; admins read every row.

A page's cursor is opaque to clients: the (created_at, auction_id) of the last row listed,
base64url-encoded, which is where the next page starts (the catalog is ordered by it, newest
first), so a cursor stays valid while auctions are created or change status.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection
from typing import Any, get_args

from auctionactors.domain.access import Viewer
from auctionactors.domain.catalog import Summary
from auctionactors.domain.terms import FINAL_STATUSES, Status
from auctionactors.errors import DomainError
from auctionactors.store.base import CatalogEntry, EventStore
from auctionactors.store.codec import decode_summary

UNFINISHED: frozenset[str] = frozenset(get_args(Status)) - FINAL_STATUSES
_CURSOR = re.compile(r"(-?[0-9]{1,19}):(.+)", re.DOTALL)
_INT64 = 2**63

Cursor = tuple[int, str]


def opaque(text: str) -> str:
    """A page's cursor as clients see it: ``text`` base64url-encoded, unpadded."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def unopaque(cursor: str) -> str | None:
    """The text of an `opaque` cursor; None if ``cursor`` is not one."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def encode_cursor(entry: CatalogEntry) -> str:
    return opaque(f"{entry.created_at}:{entry.stream_id}")


def decode_cursor(cursor: str) -> Cursor:
    """The (created_at, auction_id) a cursor names; `DomainError` ``invalid`` for a string that
    is not a cursor this server gives (never a store error: it only filters a read)."""
    text = unopaque(cursor)
    match = None if text is None else _CURSOR.fullmatch(text)
    if match is None or not -_INT64 <= int(match[1]) < _INT64:
        raise DomainError("invalid", "cursor is not one a list_auctions reply gave")
    return int(match[1]), match[2]


def reader_of(viewer: Viewer) -> str | None:
    """The store's ``reader`` filter for a viewer: admins see every auction."""
    return None if viewer.role == "admin" else viewer.company_id


class Listing:
    """Catalog reads for one store. ``skipped`` is told of each row that cannot be decoded (it
    is left out, never failing the list)."""

    def __init__(self, store: EventStore, skipped: Callable[[str, str], None]) -> None:
        self.store = store
        self._skipped = skipped

    async def page(
        self,
        viewer: Viewer,
        statuses: Collection[str] | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        """``list_auctions``' result: up to ``limit`` summaries newest first from ``cursor``,
        and ``next_cursor`` (None after the last page)."""
        before = None if cursor is None else decode_cursor(cursor)
        if statuses is not None and not statuses:
            return {"auctions": [], "next_cursor": None}
        rows = await self.store.catalog(
            reader=reader_of(viewer), statuses=statuses, before=before, limit=limit + 1
        )
        page, more = rows[:limit], len(rows) > limit
        listed = []
        for entry in page:
            summary = self.summary(entry)
            if summary is None:
                continue
            try:
                listed.append(summary.public(viewer))
            except Exception:  # one auction that cannot be shown never fails the list
                self._skipped(entry.stream_id, "its summary")
        return {"auctions": listed, "next_cursor": encode_cursor(page[-1]) if more else None}

    async def visible_ids(
        self, viewer: Viewer, statuses: Collection[str] | None = None
    ) -> list[str]:
        """Every auction ``viewer`` may see (only those in ``statuses``, when given), newest
        first (read from the rows' columns: the summaries need not be decoded)."""
        if statuses is not None and not statuses:
            return []
        rows = await self.store.catalog(reader=reader_of(viewer), statuses=statuses)
        return [e.stream_id for e in rows]

    async def unfinished(self, company_id: str) -> int:
        """How many auctions of a buyer company are not final (drafts included)."""
        return await self.store.catalog_count(reader=company_id, statuses=UNFINISHED)

    async def total(self) -> int:
        return await self.store.catalog_count()

    def summary(self, entry: CatalogEntry) -> Summary | None:
        try:
            return decode_summary(entry)
        except Exception:
            self._skipped(entry.stream_id, "its catalog row")
            return None
