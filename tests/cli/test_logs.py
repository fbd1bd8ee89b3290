"""``serve --log-format json``: one JSON object a line on stderr, with the auction and seq."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys

import pytest

from auctionactors.cli import main
from auctionactors.cli.logs import JsonFormatter

from .process import REPO, LineReader, subprocess_env
from .seed import Seeded


def test_serve_logs_json_lines_with_the_auction_and_its_seq(seeded: Seeded) -> None:
    # The seeded auctions' deadlines passed long ago: serve loads them at once to act on them.
    serve = ["serve", "--db", str(seeded.path), "--port", "0", "--log-format", "json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "auctionactors", *serve],
        cwd=REPO,
        env=subprocess_env(AUCTIONACTORS_LOG_LEVEL="INFO"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err, out = LineReader(proc.stderr), LineReader(proc.stdout)
    try:
        loaded: dict[str, int] = {}
        while seeded.open not in loaded:
            doc = json.loads(err.next(timeout=30))  # every line is one JSON object
            assert {"time", "level", "logger", "message"} <= doc.keys()
            assert doc["time"].endswith("Z")
            if doc["message"].endswith(f"loaded at seq {doc.get('seq')}"):
                loaded[doc["auction_id"]] = doc["seq"]
                assert doc["level"] == "INFO"
                assert doc["logger"] == "auctionactors.runtime.supervisor"
        assert loaded[seeded.open] == 3  # created, started, a bid
        while "listening on" not in out.next(timeout=30):  # its signal handlers are set
            pass
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for line in err.rest():
            json.loads(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_a_traceback_stays_on_its_line() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    try:
        raise ValueError("two\nlines")
    except ValueError:
        record.exc_info = sys.exc_info()
    record.auction_id = "A-1"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    doc = json.loads(line)
    assert (doc["message"], doc["auction_id"], doc["level"]) == ("boom now", "A-1", "ERROR")
    assert "ValueError: two\nlines" in doc["exception"]


def test_an_unknown_log_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--log-format", "xml", "--db", "x.db"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--log-format" in err
