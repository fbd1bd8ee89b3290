"""``auctionactors serve`` as a real process on the system clock: it acts on stored deadlines by
itself and stops cleanly on SIGTERM.

The auction is made by the runtime in the test (start in ~1 s, 1 s of bidding, 1 s of decision),
then the daemon alone must start, end and expire it. The test waits on a real external process,
so it polls the database, briefly and with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from auctionactors.cli import main
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.sqlite import SqliteEventStore

from .process import LineReader, start_cli
from .seed import BUYER, CONFIG, terms

LIFECYCLE = ["auction_created", "auction_started", "auction_ended", "auction_expired"]


async def _create_soon(path: Path) -> str:
    clock = SystemClock()
    async with await SqliteEventStore.open(path) as store:
        sup = Supervisor(store, clock, config=CONFIG)
        try:
            start = clock.now() + 1 * SECOND
            reply = await sup.create_auction(
                BUYER, terms(start, duration_s=1, decision_duration_s=1)
            )
        finally:
            await sup.stop()
    return str(reply.fields["auction_id"])


def event_types(capsys: pytest.CaptureFixture[str], path: Path, auction_id: str) -> list[str]:
    code = main(["events", auction_id, "--json", "--db", str(path)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return [json.loads(line)["type"] for line in out.splitlines()]


def test_serve_runs_deadlines_and_stops_on_sigterm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "serve.db"
    auction_id = asyncio.run(_create_soon(path))
    proc = start_cli("serve", "--db", str(path), "--port", "0")
    try:
        assert proc.stdout is not None
        out = LineReader(proc.stdout)
        first = out.next(timeout=15)
        assert "supervising 1 auctions" in first
        assert str(path.resolve()) in first

        deadline = time.monotonic() + 15
        seen = event_types(capsys, path, auction_id)
        while "auction_expired" not in seen:
            assert proc.poll() is None, "serve died"
            assert time.monotonic() < deadline, f"not expired in time; events so far: {seen}"
            time.sleep(0.1)
            seen = event_types(capsys, path, auction_id)
        assert seen == LIFECYCLE
        assert proc.poll() is None  # nothing left to do, still serving

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        rest = out.rest()
        assert rest[-1] == "auctionactors: stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        stderr = proc.stderr.read() if proc.stderr is not None else ""
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert "Traceback" not in stderr, stderr

    # The daemon's own writes are sound, and it left exactly the lifecycle behind.
    assert main(["verify", "--db", str(path)]) == 0
    assert "ok: 1 streams, 4 events, 0 problems" in capsys.readouterr().out
    main(["auctions", "--json", "--db", str(path)])
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["auction_id"], row["status"], row["seq"]) == (auction_id, "expired", 4)


def test_serve_on_sigint_also_stops_cleanly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "empty.db"
    proc = start_cli("serve", "--db", str(path), "--port", "0")
    try:
        assert proc.stdout is not None
        out = LineReader(proc.stdout)
        assert "supervising 0 auctions" in out.next(timeout=15)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert out.rest()[-1] == "auctionactors: stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert path.exists()  # serve creates its database
    assert main(["verify", "--db", str(path)]) == 0
    assert "ok: 0 streams" in capsys.readouterr().out


def test_freeze_heap_takes_what_start_up_made_out_of_full_collections() -> None:
    """`serve` calls `daemon.freeze_heap` once it is up: what exists then is no longer walked by
    the collector (gen 2 walks cost 15-20 ms each while clients pulled long histories)."""
    import gc

    from auctionactors.cli.daemon import freeze_heap

    made_at_start = [object() for _ in range(3)] + [{"a": [1]}]  # tracked containers
    gc.unfreeze()
    try:
        freeze_heap()
        assert gc.get_freeze_count() > 0
        walked = {id(o) for g in range(3) for o in gc.get_objects(generation=g)}
        assert id(made_at_start[-1]) not in walked
    finally:
        gc.unfreeze()
