"""A real ``auctionactors serve`` process for the proof scripts (``fuzz_server.py``, ``soak.py``):
started on port 0 with its output in a log file, its URL read from that log, and what the
operating system says about it (resident memory, open file descriptors, threads) read from
``/proc/PID``. Imported by the scripts (they run with ``scripts/`` on ``sys.path``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LISTENING = "auctionactors: listening on "
# Lines of the server's log that mean something went wrong inside it.
TROUBLE = ("Traceback", "connection handler failed", "Error in", "failed:", "internal error")


class Server:
    def __init__(self, db: Path, log: Path, *options: str) -> None:
        self.db = db
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        env.pop("AUCTIONACTORS_DB", None)
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "auctionactors", "serve", "--db", str(db), "--port", "0",
             *options],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.pid = self.proc.pid
        self.url = self._wait_url()
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    def _wait_url(self, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if line.startswith(LISTENING):
                    return line.removeprefix(LISTENING).strip()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not start; its log:\n{self.log.read_text()}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        """Resident memory (VmRSS), MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def threads(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        raise RuntimeError("no Threads")

    def healthz(self) -> tuple[int, dict[str, Any]]:
        scheme = "https" if self.url.startswith("wss") else "http"
        url = f"{scheme}://127.0.0.1:{self.port}/healthz"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (a clean drain), SIGKILL if that takes too long; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._out.close()
        return self.proc.returncode

    def trouble(self) -> list[str]:
        return [ln for ln in self.log.read_text().splitlines() if any(t in ln for t in TROUBLE)]


def cli_json(*args: str) -> Any:
    """``auctionactors ARGS --json`` as its own process; its output parsed."""
    out = subprocess.run(
        [sys.executable, "-m", "auctionactors", *args, "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    if out.returncode not in (0, 1):
        raise RuntimeError(f"auctionactors {' '.join(args)}: {out.stderr}")
    return json.loads(out.stdout)


def add_user(db: Path, company: str, role: str, name: str) -> dict[str, str]:
    """``auctionactors user add`` (the operator's way): company_id, user_id, token."""
    out = subprocess.run(
        [sys.executable, "-m", "auctionactors", "user", "add", "--company", company,
         "--role", role, "--name", name, "--db", str(db)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    user: dict[str, str] = json.loads(out.stdout)
    return user


def curve(samples: list[float], width: int = 12) -> str:
    """Samples thinned to ``width`` evenly spaced values, for a one-line curve."""
    if len(samples) <= width:
        picked = samples
    else:
        picked = [samples[round(i * (len(samples) - 1) / (width - 1))] for i in range(width)]
    return " ".join(f"{v:.1f}" for v in picked)
