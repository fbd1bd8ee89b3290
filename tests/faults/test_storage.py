"""Storage faults through the whole stack, on the real SQLite store, with a real ``serve``.

An append that fails (the database locked by another process beyond the busy timeout, the disk
full) writes nothing, leaves the auction's state as it was, answers the caller ``unavailable``,
and the actor carries on once the storage works again; a deadline that falls meanwhile is acted
on once it does, with no extra time. (`tests/runtime` covers the same with injected faults.)
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from auctionactors.cli import main
from auctionactors.client import Client, ClientError
from auctionactors.domain.timestamps import SECOND, format_instant
from tests.cli.process import LineReader

from .serving import Serving, Users, bid, create, make_users, serving, without_time

BUSY_TIMEOUT_S = "0.2"
# Holds a transaction on the database until told to let go: another process, not a thread.
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA busy_timeout = 10000")
conn.execute("BEGIN " + sys.argv[2])
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
print("released", flush=True)
"""


@contextmanager
def locked(path: Path, mode: str) -> Iterator[None]:
    """Another process holds ``BEGIN <mode>`` on the database while the block runs."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    out = LineReader(proc.stdout)
    try:
        assert out.next(timeout=15) == "locked"
        yield
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert out.next(timeout=15) == "released"
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdin.close()
        proc.stdout.close()


async def refused(client: Client, kind: str, **fields: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        await client.request(kind, **fields)
    return caught.value


async def view_of(client: Client, auction_id: str) -> dict[str, Any]:
    view: dict[str, Any] = (await client.request("get_view", auction_id=auction_id))["view"]
    return view


def stop_and_verify(srv: Serving, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=15) == 0
    assert main(["verify", "--db", str(path)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


# --- the database locked by another process ---------------------------------------------------


async def _while_locked(srv: Serving, users: Users, path: Path, mode: str) -> None:
    now = time.time_ns() // 1000
    opened = await create(srv.url, users, format_instant(now))
    start = now + 2 * SECOND  # falls while the database is locked
    later = await create(srv.url, users, format_instant(start), duration_s=600)
    async with (
        Client(srv.url, users.s1.token, reconnect=False, retry_attempts=1) as s1,
        Client(srv.url, users.admin.token, reconnect=False, protocol=1) as admin,  # history
    ):
        first = await s1.request("place_bids", **bid(opened, "5.00"))
        before = await view_of(admin, opened)
        with locked(path, mode):
            for amount in ("4.75", "4.50"):
                began = time.monotonic()
                error = await refused(s1, "place_bids", **bid(opened, amount))
                assert (error.code, error.message) == ("unavailable", "storage unavailable")
                assert time.monotonic() - began >= 0.15  # it waited for the lock, then gave up
            error = await refused(s1, "revoke_bid", auction_id=opened, product_id="p1")
            assert error.code == "unavailable"
            assert without_time(await view_of(admin, opened)) == without_time(before)
            # The start passes while locked: acting on it fails too, and is retried.
            await asyncio.sleep(max(0.0, (start - time.time_ns() // 1000) / SECOND) + 0.3)
            assert (await view_of(admin, later))["status"] == "pending"
            line, _ = srv.wait_for_log("storage unavailable for a deadline")
            assert later in line
            retries = [line for line in srv.log_lines() if "for a deadline" in line]
            assert len(retries) <= 4, retries[:10]  # about once a second, never in a spin

        third = await s1.request("place_bids", **bid(opened, "4.75"))
        assert third["seq"] == first["seq"] + 1  # the refused commands left nothing behind
        events = (await admin.request("get_events", auction_id=opened))["events"]
        assert [e["seq"] for e in events] == list(range(1, third["seq"] + 1))
        placed = [e["data"]["bid_id"] for e in events if e["type"] == "bid_placed"]
        assert placed == [*first["bid_ids"], *third["bid_ids"]]

        deadline = time.monotonic() + 10  # the retry timer (1 s) runs in the server
        while (view := await view_of(admin, later))["status"] == "pending":
            assert time.monotonic() < deadline, "the start was not acted on after the lock"
            await asyncio.sleep(0.1)
        assert view["status"] == "open"
        assert view["closes_at"] == format_instant(start + 600 * SECOND)  # no extra time


@pytest.mark.parametrize("mode", ["EXCLUSIVE", "IMMEDIATE"])
def test_database_locked_by_another_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    path = tmp_path / "locked.db"
    users = make_users(path)
    with serving(path, "--busy-timeout", BUSY_TIMEOUT_S) as srv:
        asyncio.run(_while_locked(srv, users, path, mode))
        stop_and_verify(srv, path, capsys)


# --- a full filesystem ------------------------------------------------------------------------


def _run(*command: str) -> bool:
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny filesystem: a 2 MiB tmpfs, else a loop-mounted 8 MiB ext4 image."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    if not _run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)):
        image = tmp_path / "small.img"
        if not (
            _run("truncate", "-s", "8M", str(image))
            and _run("mkfs.ext4", "-q", "-F", str(image))
            and _run("mount", "-o", "loop", str(image), str(folder))
        ):
            pytest.skip("cannot mount a tmpfs or a loop device here")
    try:
        yield folder
    finally:
        if not _run("umount", str(folder)):
            _run("umount", "-l", str(folder))


def fill(folder: Path) -> Path:
    """Write a file until the filesystem has not one byte left."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 16, 1 << 12, 1):
            while True:
                try:
                    os.write(fd, b"\xff" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
    assert os.statvfs(folder).f_bavail == 0
    return filler


async def _while_full(srv: Serving, users: Users, folder: Path) -> None:
    now = time.time_ns() // 1000
    opened = await create(srv.url, users, format_instant(now))
    start = now + 1 * SECOND  # falls while the disk is full
    later = await create(srv.url, users, format_instant(start), duration_s=600)
    async with (
        Client(srv.url, users.s1.token, reconnect=False, retry_attempts=1) as s1,
        Client(srv.url, users.admin.token, reconnect=False, protocol=1) as admin,  # history
    ):
        first = await s1.request("place_bids", **bid(opened, "5.00"))
        before = await view_of(admin, opened)
        filler = fill(folder)
        for amount in ("4.75", "4.50", "4.25"):
            error = await refused(s1, "place_bids", **bid(opened, amount))
            assert (error.code, error.message) == ("unavailable", "storage unavailable")
        error = await refused(s1, "revoke_bid", auction_id=opened, product_id="p1")
        assert error.code == "unavailable"
        assert without_time(await view_of(admin, opened)) == without_time(before)

        # The start passes with the disk full: retried about once a second, never in a spin.
        await asyncio.sleep(max(0.0, (start - time.time_ns() // 1000) / SECOND) + 2.0)
        assert (await view_of(admin, later))["status"] == "pending"
        retries = [line for line in srv.log_lines() if "for a deadline" in line]
        assert 1 <= len(retries) <= 6, retries[:10]

        filler.unlink()  # space again
        second = await s1.request("place_bids", **bid(opened, "4.75"))
        assert second["seq"] == first["seq"] + 1
        view = await view_of(admin, opened)
        assert [b["amount"] for b in view["products"][0]["bids"]] == ["4.75"]
        history = [h["bid_id"] for h in view["products"][0]["history"]]
        assert history == [*first["bid_ids"], *second["bid_ids"]]

        deadline = time.monotonic() + 10  # the retry timer (1 s) runs in the server
        while (view := await view_of(admin, later))["status"] == "pending":
            assert time.monotonic() < deadline, "the start was not acted on after the disk"
            await asyncio.sleep(0.1)
        assert view["closes_at"] == format_instant(start + 600 * SECOND)  # no extra time


def test_full_filesystem(small_filesystem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = small_filesystem / "full.db"
    users = make_users(path)
    with serving(path) as srv:
        asyncio.run(_while_full(srv, users, small_filesystem))
        stop_and_verify(srv, path, capsys)
