"""The live fuzzer (``scripts/fuzz_server.py``) in its short form: 2 000 hostile frames against a
real ``serve`` process, every check of the script holding (the server alive and healthy, nothing
stored by the outsider, only S1's acknowledged events, no connection left behind, no internal
error, no traceback). The full run (100 000 frames) is the script's default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_live_fuzz() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fuzz_server.py"), "--quick", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=50,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["frames"] >= 2000
    assert all(summary["checks"].values()), summary["checks"]
    assert summary["problems"] == []
    replies = summary["replies"]
    assert replies.get("bad_request", 0) > 0 and replies.get("internal", 0) == 0
    assert summary["tasks"]["after"] <= summary["tasks"]["before"]
    assert summary["door"].get("closed 4401 (bad token)", 0) > 0
