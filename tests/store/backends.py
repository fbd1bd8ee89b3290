"""The backends every store contract runs on (the ``store`` fixture is in conftest)."""

from __future__ import annotations

from typing import Protocol

from auctionactors.store.base import Accounts, Deliveries, EventStore


class Backend(EventStore, Accounts, Deliveries, Protocol):
    """What the contract needs of a backend: both protocols and the test hooks."""

    fail_next_append: BaseException | None

    async def revoke_token(self, token: str) -> bool: ...
