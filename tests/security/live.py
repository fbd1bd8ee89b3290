"""``auctionactors serve`` as a real process for the security tests: started on port 0, its URL
read from its output, stopped with SIGTERM (and checked for tracebacks) afterwards."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.cli.process import LineReader, start_cli

LISTENING = "auctionactors: listening on "


@dataclass
class Live:
    proc: subprocess.Popen[str]
    out: LineReader
    url: str  # ws://127.0.0.1:PORT/ws (wss:// with TLS)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])


@contextmanager
def live_server(db: Path, *options: str) -> Iterator[Live]:
    proc = start_cli("serve", "--db", str(db), "--port", "0", *options)
    stderr = ""
    try:
        assert proc.stdout is not None
        out = LineReader(proc.stdout)
        url = ""
        while not url:
            line = out.next(timeout=20)
            if line.startswith(LISTENING):
                url = line.removeprefix(LISTENING)
        yield Live(proc, out, url)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stderr is not None:
            stderr = proc.stderr.read()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert "Traceback" not in stderr, stderr


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A one-shot CLI command as its own process (usable beside a running server and from
    inside an event loop, unlike `auctionactors.cli.main`)."""
    proc = start_cli(*args)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
