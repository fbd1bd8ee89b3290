"""A smallest run of ``scripts/bench_reactor_failover.py``: two nodes with ``--webhook``, the
one running the reactor SIGKILLed, the other taking over. It checks that the benchmark works
(the survivor takes the reactor and delivers), never what it measures."""

from __future__ import annotations

import pytest

from tests.scripts import load_script


@pytest.mark.timeout(180)
def test_smallest_run_prints_every_figure(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_script(monkeypatch, "bench_reactor_failover")
    assert bench.main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    for figure in (
        "event to webhook, leader alive (baseline)",
        "kill to the survivor holding the reactor",
        "kill to the first webhook of an event after it",
        "kill to first webhook / baseline delivery",
    ):
        assert figure in out, figure
