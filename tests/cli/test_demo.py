"""``auctionactors demo`` as a real process: seeded accounts, a live auction in which the bots
bid and auto-bid until it closes, the next one starting, a clean stop and an intact store."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from auctionactors.cli import main

from .process import LineReader, start_cli


def test_demo_runs_auctions_to_the_end_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    proc = start_cli("demo", "--db", str(db), "--duration", "2", "--think", "0.2")
    try:
        out = LineReader(proc.stdout)  # type: ignore[arg-type]
        assert out.next() == f"demo store: {db}"
        tokens = [out.next() for _ in range(6)]
        assert all(line.strip().startswith("token ") for line in tokens)
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while "auction_closed" not in " ".join(seen[-3:]) or len(seen) < 5:
            assert time.monotonic() < deadline, "no auction closed within 60 s"
            seen.append(out.next(timeout=30))
        kinds = " ".join(seen)
        for kind in ("auction_created", "auction_started", "bid_placed", "auto_bid_placed"):
            assert kind in kinds
        assert "winning_solution_selected" in kinds
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert any("demo stopped" in line for line in out.rest())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert main(["verify", "--db", str(db)]) == 0


def test_demo_refuses_an_existing_store(tmp_path: Path) -> None:
    db = tmp_path / "taken.db"
    db.write_bytes(b"")
    assert main(["demo", "--db", str(db)]) == 2
