"""A smallest run of ``scripts/bench_scale.py``: every part runs (a seeded store served by a real
``serve`` process, open auctions touched, one hot auction in process, replay from a snapshot) and
prints its figures and ratios. It checks that the benchmark works, never what it measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripts import load_script


@pytest.mark.timeout(60)
def test_smallest_run_prints_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_script(monkeypatch, "bench_scale")
    monkeypatch.setattr(bench.seeding, "CACHE", tmp_path / "seeds")  # not the shared cache
    monkeypatch.setattr(bench, "SETTLE_S", 0.2)
    argv = ["--runs", "1", "--auctions", "200", "--passivated", "100", "--passivate-after",
            "0.1", "--callers", "4", "--hot-seconds", "0.3", "--ceiling-appends", "20",
            "--replay-events", "2000"]  # fmt: skip
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    for figure in (
        "200 auctions: spawn to /healthz",
        "first acked bid on a random open auction",
        "RSS after touching every auction",
        "`auctionactors auctions` wall time",
        "100 open auctions: RSS after start-up",
        "4 callers on one auction (Supervisor.ask)",
        "2000-event auction: replay from its snapshot",
        "one hot auction / group-commit ceiling",
        "replay from seq 1 / from its snapshot",
    ):
        assert figure in out, figure
    assert "refused (DomainError)" in out
