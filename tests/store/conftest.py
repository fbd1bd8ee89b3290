"""The ``store`` fixture of the contracts: one run per backend (test_sqlite has its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from auctionactors.store.memory import MemoryEventStore
from auctionactors.store.postgres import PostgresEventStore
from auctionactors.store.sqlite import SqliteEventStore
from tests.store.backends import Backend


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    backend: Backend
    if request.param == "memory":
        backend = MemoryEventStore()
    elif request.param == "postgres":
        backend = await PostgresEventStore.open(request.getfixturevalue("pg_url"))
    else:
        backend = await SqliteEventStore.open(tmp_path / "events.db")
    try:
        yield backend
    finally:
        await backend.close()
