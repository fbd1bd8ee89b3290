"""Real processes for the command-line tests: ``python -m ...`` started from the repository with
the same interpreter, and their output read line by line with a timeout (never a sleep)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
EOF_MARK = None


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AUCTIONACTORS_DB"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def start_module(module: str, *args: str) -> subprocess.Popen[str]:
    """``python -m MODULE ARGS`` as a real process, from the repository, stdout/stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_cli(*args: str) -> subprocess.Popen[str]:
    return start_module("auctionactors", *args)


class LineReader:
    """Reads a stream in a thread so that a test can wait for the next line with a timeout.

    Only complete lines (ending in a newline) are delivered: a line cut short by a killed
    process is dropped, not mistaken for a whole one.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                if line.endswith("\n"):
                    self._lines.put(line.rstrip("\n"))
        except ValueError:  # closed under us
            pass
        finally:
            self._lines.put(EOF_MARK)

    def next(self, timeout: float = 10.0) -> str:
        """The next line; AssertionError at end of output or when none comes in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout} s") from None
        if line is None:
            self._lines.put(EOF_MARK)  # stay at the end for later calls
            raise AssertionError("the process closed its output")
        return line

    def rest(self, timeout: float = 10.0) -> list[str]:
        """Every line up to the end of the output (the process must be ending)."""
        lines: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"output did not end within {timeout} s") from None
            if line is None:
                self._lines.put(EOF_MARK)
                return lines
            lines.append(line)
