"""A short run of ``scripts/chaos.py``: real ``serve`` processes SIGKILLed under traffic from
several client processes, and every check of the full run (acks in the log, verify, live views
equal to offline replays, deadlines kept, keyed retries applied once). The full run is
``--rounds 100``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.scripts import load_script


@pytest.mark.timeout(60)
def test_three_rounds_of_chaos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chaos = load_script(monkeypatch, "chaos")
    argv = ["--rounds", "3", "--seed", "7", "--suppliers", "2", "--dir", str(tmp_path)]
    argv += ["--min-up", "0.8", "--max-up", "1.5", "--max-down", "0.5"]
    code = chaos.main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert [line for line in out.splitlines() if line.startswith("FAIL")] == []
    (summary,) = [line for line in out.splitlines() if line.startswith("chaos: 3 rounds (")]
    acks = re.search(r"(\d+) acknowledged commands checked", summary)
    views = re.search(r"(\d+) views compared", summary)
    assert acks is not None and int(acks.group(1)) > 0, summary
    assert views is not None and int(views.group(1)) > 0, summary
    assert " 0 failures" in summary
    (keyed,) = [line for line in out.splitlines() if line.startswith("chaos: keyed retries: ")]
    resent = re.search(
        r"(\d+) acknowledged commands re-sent \((\d+) answered with the original", keyed
    )
    assert resent is not None and int(resent.group(1)) > 0, keyed
