"""A smallest run of ``scripts/bench_reactor.py``: the receivers in a child process, the mail
reactor's rate, the 100-auction bid load with and without reactors, the lag. It checks that
the benchmark works (every mail and webhook delivered), never what it measures."""

from __future__ import annotations

import pytest

from tests.scripts import load_script


@pytest.mark.timeout(120)
def test_smallest_run_prints_every_figure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_script(monkeypatch, "bench_reactor")
    assert bench.main(["--quick", "--runs", "1", "--bids", "2"]) == 0
    out = capsys.readouterr().out
    for figure in (
        "mails per second",
        "bids/s, 100 auctions, no reactors",
        "bids/s, 100 auctions, webhook + mail",
        "webhook reactor lag during the load, max",
        "catch-up after the load",
        "bids/s with reactors / without (same run)",
    ):
        assert figure in out, figure
    assert "the receivers got 60 mails and 400 webhooks" in out
