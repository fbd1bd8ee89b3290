"""A real ``auctionactors serve`` process for the fault tests, and the users it serves.

The server picks a free port (``--port 0``) and prints its URL; stdout and stderr are read line
by line in threads (`LineReader`), so a test can wait for a log line with a deadline.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auctionactors.client import Client
from auctionactors.domain.timestamps import format_instant
from auctionactors.store.base import NewUser
from tests.cli.process import LineReader, start_cli
from tests.pg import open_db

LISTENING = "auctionactors: listening on "
STARTUP_S = 30.0


@dataclass
class Users:
    admin: NewUser
    buyer: NewUser
    s1: NewUser
    s2: NewUser


async def _make_users(path: Path | str) -> Users:
    async with await open_db(path) as store:
        return Users(
            admin=await store.add_user("Platform", "admin", "Ada"),
            buyer=await store.add_user("Aegean Shipping", "buyer", "Bea"),
            s1=await store.add_user("Baltic Bunkers", "supplier", "Sam"),
            s2=await store.add_user("North Sea Fuels", "supplier", "Sue"),
        )


def make_users(path: Path | str) -> Users:
    """An admin, a buyer and two suppliers in a new database at ``path`` (or URL)."""
    return asyncio.run(_make_users(path))


@dataclass
class Serving:
    proc: subprocess.Popen[str]
    out: LineReader
    err: LineReader
    url: str

    def log_lines(self, quiet_s: float = 0.3) -> list[str]:
        """The stderr lines written so far (until none comes for ``quiet_s``)."""
        lines: list[str] = []
        while True:
            try:
                lines.append(self.err.next(timeout=quiet_s))
            except AssertionError:  # quiet (or the end of the output)
                return lines

    def wait_for_log(self, *words: str, timeout: float = 20.0) -> tuple[str, list[str]]:
        """The first stderr line containing every one of ``words`` (and the lines before it)."""
        seen: list[str] = []
        while True:
            line = self.err.next(timeout=timeout)
            if all(w in line for w in words):
                return line, seen
            seen.append(line)


@contextmanager
def serving(path: Path | str, *options: str) -> Iterator[Serving]:
    """``serve --db PATH --port 0 OPTIONS``; killed on the way out if still running."""
    proc = start_cli("serve", "--db", str(path), "--port", "0", *options)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = LineReader(proc.stdout), LineReader(proc.stderr)
    try:
        while not (line := out.next(timeout=STARTUP_S)).startswith(LISTENING):
            pass
        yield Serving(proc, out, err, line.removeprefix(LISTENING))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def instant_in(seconds: float, now_us: int) -> str:
    return format_instant(now_us + round(seconds * 1_000_000))


def spot(suppliers: list[str], start: str, *, duration_s: int = 3600) -> dict[str, Any]:
    """A one-product spot auction (an admin's start of now opens it at once)."""
    return {
        "port": "Rotterdam",
        "suppliers": suppliers,
        "scheduled_start": start,
        "duration_s": duration_s,
        "soft_close_s": 0,
        "products": [
            {"vessel": {"name": "MV Aurora", "imo": "9300001"}, "fuel": "VLSFO 0.5%",
             "quantity_mt": 1500, "eta": "2030-01-01T00:00:00Z"},
        ],
    }  # fmt: skip


async def create(url: str, users: Users, start: str, **kw: Any) -> str:
    async with Client(url, users.admin.token, reconnect=False) as admin:
        suppliers = [users.s1.company_id, users.s2.company_id]
        reply = await admin.request(
            "create_auction", buyer=users.buyer.company_id, auction=spot(suppliers, start, **kw)
        )
    return str(reply["auction_id"])


def bid(auction_id: str, amount: str) -> dict[str, Any]:
    return {"auction_id": auction_id, "bids": [{"product_id": "p1", "amount": amount}]}


def without_time(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "server_time"}
