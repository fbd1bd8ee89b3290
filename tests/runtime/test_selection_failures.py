"""Selecting a solution by name when the auction's solutions cannot be computed: the command is
refused (`unavailable`) and the actor keeps running; it is never restarted for it, so retries
cannot quarantine the auction."""

from __future__ import annotations

import pytest

from auctionactors.domain.commands import SelectSolution
from auctionactors.errors import Unavailable
from auctionactors.runtime import solver
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.memory import MemoryEventStore

from .conftest import BUYER, FAST
from .test_supervisor import bid, open_auction


async def test_select_by_name_when_the_solutions_cannot_be_found(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = Supervisor(MemoryEventStore(), clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    await sup.ask(auction_id, bid("p1", 200))
    clock.advance(600)
    await sup.quiesce()
    seq = await sup.query(auction_id, lambda s: s.seq)

    def broken(*_: object) -> object:
        raise RuntimeError("injected: no solutions for this state")

    with monkeypatch.context() as patched:
        patched.setattr(solver, "compute", broken)
        for _ in range(FAST.max_restarts + 1):
            with pytest.raises(Unavailable, match="best overall offer cannot be computed"):
                await sup.ask(auction_id, SelectSolution(by=BUYER, solution="best_overall"))
            await sup.quiesce()
        cell = sup.cell(auction_id)
        assert cell is not None and (cell.status, cell.restarts) == ("live", 0)
        refused = sup.stats.commands[("SelectSolution", "unavailable")]
        assert refused == FAST.max_restarts + 1  # counted as what they were answered
    # Once the solutions can be computed again, the same command is applied.
    reply = await sup.ask(auction_id, SelectSolution(by=BUYER, solution="best_overall"))
    assert reply.seq > seq
    await sup.stop()
