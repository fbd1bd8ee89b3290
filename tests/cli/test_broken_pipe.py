"""A reader of stdout that goes away (``auctionactors auctions | head``): every command that
writes to stdout stops quietly (exit status 1, as Python's documentation advises for SIGPIPE),
never with a BrokenPipeError traceback. The pipe's read end is closed before the command writes,
so that the first write fails, every time."""

from __future__ import annotations

import pytest

from .process import start_cli
from .seed import Seeded


@pytest.mark.parametrize(
    "argv",
    [
        ("auctions",),
        ("auctions", "--json"),
        ("events", "{decided}"),
        ("events", "{decided}", "--json"),
        ("replay", "{decided}"),
        ("replay", "{decided}", "--json"),
        ("replay", "{decided}", "--as", "c-s1"),
        ("verify",),
    ],
)
def test_a_closed_stdout_ends_the_command_quietly(seeded: Seeded, argv: tuple[str, ...]) -> None:
    args = [a.format(decided=seeded.decided) for a in argv]
    proc = start_cli(*args, "--db", str(seeded.path))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # nobody reads: the command's first write fails
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert err == ""  # no traceback, no "Exception ignored" at exit


def test_an_open_stdout_still_gets_everything(seeded: Seeded) -> None:
    proc = start_cli("events", seeded.decided, "--db", str(seeded.path))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == ""
    assert len(out.splitlines()) == 9
