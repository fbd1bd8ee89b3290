"""A smallest run of ``scripts/bench_gateway.py``: every part of issue 11's benchmark runs (real
``serve`` processes on fresh and seeded stores, subscribed bidders and the echo baseline, an aged
auction, list pages, ``subscribe_all``, history pullers, burst and paced fan-out against the bare
broadcast) and prints its figures beside their targets. It checks that the benchmark works,
never what it measures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.scripts import load_script


@pytest.mark.timeout(180)
def test_smallest_run_prints_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_script(monkeypatch, "bench_gateway")
    monkeypatch.setattr(sys.modules["seeding"], "CACHE", tmp_path / "seeds")  # not the shared one
    argv = ["--quick", "--seconds", "0.5", "--aged-bids", "300", "--aged-sample", "10",
            "--auctions", "300", "--first-pages", "3", "--slow-seconds", "0.3", "--events", "1500",
            "--history-seconds", "0.3", "--watchers", "10,100", "--loops", "asyncio"]  # fmt: skip
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    for figure in (
        "10 subscribed bidders, protocol 2: acked bids/s",
        "bare websockets echo, same 10 clients",
        "300-bid auction: largest bid update to a receiver",
        "aged / fresh",
        "300 auctions: list_auctions first page p50",
        "later pages p99",
        "300 auctions: p2 subscribe_all, default statuses",
        "connections closed (1013)",
        "protocol 2: get_view p99, alone",
        "protocol 1: get_view p99, alone",
        "while 3 connections loop get_events",
        "burst fan-out, 10 watchers, protocol 2: frames/s",
        "burst fan-out, 100 watchers, protocol 1: frames/s",
        "asyncio, 100 watchers x 100 bids/s: update p99",
        "update p99 - bare p99",
        "targets met",
    ):
        assert figure in out, figure
    assert "PROBLEM" not in out
