from __future__ import annotations

from pathlib import Path

import pytest

from .seed import Seeded, seed


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    """A fresh database made by the real runtime (see `seed`); each test may damage its own."""
    return seed(tmp_path / "auctions.db")


@pytest.fixture(autouse=True)
def _no_db_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests say which database they use; an operator's $AUCTIONACTORS_DB must not leak in."""
    monkeypatch.delenv("AUCTIONACTORS_DB", raising=False)
