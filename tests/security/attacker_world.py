"""The world the attacker test plays in: a real ``auctionactors serve`` process on a fresh SQLite
file, with an admin, a buyer, two suppliers, an observer and a second buyer, and auctions in
every status (draft, pending, open, open and anonymous, decision, closed, expired, canceled, and
one of the other buyer's). Clients are synchronous websockets connections (the hypothesis test
drives them one request at a time); the store is read with a read-only ``sqlite3`` connection
beside the server, so that what a request stored can be compared before and after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from auctionactors.store.sqlite import SqliteEventStore
from tests.cli.process import REPO, subprocess_env

WAIT_S = 10.0
DAY_S = 86_400
# Events the clock causes (``by`` null): they may appear at any time, whatever anyone sends.
SYNC_AUCTION = "a-sync-probe-missing"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso(offset_s: float = 0) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=offset_s))


class Closed(Exception):
    """The server closed the connection (its close code and reason)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


class Client:
    """One synchronous protocol connection: frames sent, every frame received kept."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self._ids = itertools.count(1)
        self.ws: ClientConnection = self._open()

    def _open(self) -> ClientConnection:
        ws = connect(
            self.url,
            compression=None,
            open_timeout=WAIT_S,
            max_size=None,
            ping_interval=None,
            max_queue=None,
            legacy=True,
        )  # No keepalive: a busy server is waited for (WAIT_S), not dropped by the client. And
        # every frame is read at once: a bounded queue stopped the reading while a window of
        # frames was being sent, the server's pings went unanswered and it closed 1011.
        if self.token is not None:
            ws.send(json.dumps({"type": "hello", "token": self.token}))
            welcome = json.loads(ws.recv(timeout=WAIT_S))
            assert welcome["type"] == "welcome", welcome
        return ws

    def reopen(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.ws.close()
        self.ws = self._open()

    def send_text(self, text: str) -> None:
        try:
            self.ws.send(text)
        except ConnectionClosed as exc:
            raise Closed(*_close_of(exc)) from None

    def recv(self, wait_s: float = WAIT_S) -> dict[str, Any]:
        try:
            frame: dict[str, Any] = json.loads(self.ws.recv(timeout=wait_s))
        except ConnectionClosed as exc:
            raise Closed(*_close_of(exc)) from None
        return frame

    def until(self, request_id: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Frames until the ok/error with ``request_id``: that reply and the frames before it."""
        before: list[dict[str, Any]] = []
        while True:
            frame = self.recv()
            if frame.get("type") in ("ok", "error") and frame.get("id") == request_id:
                return frame, before
            before.append(frame)

    def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        rid = f"setup-{next(self._ids)}"
        self.send_text(json.dumps({"type": type_, "id": rid, **fields}))
        reply, _ = self.until(rid)
        return reply

    def ok(self, type_: str, **fields: Any) -> dict[str, Any]:
        reply = self.request(type_, **fields)
        assert reply["type"] == "ok", (type_, fields, reply)
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


def _close_of(exc: ConnectionClosed) -> tuple[int | None, str]:
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    return None, "no close frame"


LISTENING = "auctionactors: listening on "


@dataclass
class Live:
    """The server process. Its output goes to a file, never to a pipe nobody reads: a full
    pipe would block the server on its next log line (seen: the attack made it hang)."""

    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    def trouble(self) -> list[str]:
        """The lines of the server's log that begin an error report."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [ln for ln in lines if " ERROR " in ln or " CRITICAL " in ln]


@contextmanager
def serve(db: Path, *options: str) -> Iterator[Live]:
    log = db.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auctionactors", "serve", "--db", str(db), "--port", "0",
             *options],
            cwd=REPO, env=subprocess_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        url = ""
        while not url:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith(LISTENING):
                    url = line.removeprefix(LISTENING).strip()
            time.sleep(0.05)
        yield Live(proc, log, url)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@dataclass
class World:
    live: Live
    db: Path
    users: dict[str, dict[str, str]]  # role name -> company_id, user_id, token
    auctions: dict[str, str]  # what it is -> auction id
    bid_ids: list[str] = field(default_factory=list)
    comment_ids: list[str] = field(default_factory=list)
    clients: dict[str, Client] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.live.proc.pid

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stack(self) -> str:
        """The server's Python stacks, if ``py-spy`` is installed (to tell why it hangs)."""
        spy = shutil.which("py-spy") or shutil.which(
            "py-spy", path=str(Path(sys.executable).parent)
        )
        if spy is None:
            return "(install py-spy to see where the server hangs)"
        out = subprocess.run(
            [spy, "dump", "--pid", str(self.pid)], capture_output=True, text=True, timeout=60
        )
        return out.stdout + out.stderr

    def alive(self) -> bool:
        return self.live.proc.poll() is None

    def last_position(self) -> int:
        with _read_only(self.db) as db:
            row = db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        return int(row[0])

    def events_after(self, position: int) -> list[tuple[str, int, str, Any]]:
        """Events stored after ``position``: stream, seq, type and the ``by`` of each."""
        with _read_only(self.db) as db:
            rows = db.execute(
                "SELECT stream_id, seq, type, data FROM events WHERE position > ? "
                "ORDER BY position",
                (position,),
            ).fetchall()
        return [(s, q, t, json.loads(d).get("by")) for s, q, t, d in rows]

    def highest_seqs(self) -> dict[str, int]:
        with _read_only(self.db) as db:
            rows = db.execute("SELECT stream_id, MAX(seq) FROM events GROUP BY stream_id")
            return {s: int(q) for s, q in rows}


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        yield db
    finally:
        db.close()


PEOPLE = (
    ("admin", "Platform", "admin", "Ada Admin"),
    ("buyer", "Aegean Shipping", "buyer", "Bea Buyer"),
    ("s1", "Baltic Bunkers", "supplier", "Sam One"),
    ("s2", "North Sea Fuels", "supplier", "Sue Two"),
    ("observer", "Port Watch", "observer", "Olga Observer"),
    ("other_buyer", "Other Lines", "buyer", "Otto Other"),
    ("outsider", "Outsider Oil", "supplier", "Sid Three"),
)


async def _add_people(db: Path) -> dict[str, dict[str, str]]:
    users: dict[str, dict[str, str]] = {}
    async with await SqliteEventStore.open(db) as store:
        for key, company, role, name in PEOPLE:
            new = await store.add_user(company, role, name)  # type: ignore[arg-type]
            users[key] = {"company_id": new.company_id, "user_id": new.user_id, "token": new.token}
    return users


def auction_doc(
    users: dict[str, dict[str, str]], start: str | None, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "spot",
        "port": "Rotterdam",
        "suppliers": [users["s1"]["company_id"], users["s2"]["company_id"]],
        "scheduled_start": start,
        "products": [
            {
                "vessel": {"name": "MV Aurora", "imo": "9300001"},
                "fuel": "VLSFO 0.5%",
                "quantity_mt": 1500,
                "eta": now_iso(40 * DAY_S),
            },
            {
                "vessel": {"name": "MV Borealis", "imo": "9300002"},
                "fuel": "MGO",
                "quantity_mt": 300,
                "eta": now_iso(41 * DAY_S),
            },
        ],
    }
    doc.update(extra)
    return doc


def _build(world: World) -> None:
    u, c = world.users, world.clients
    admin, buyer, s1, s2 = c["admin"], c["buyer"], c["s1"], c["s2"]
    other = Client(world.live.url, u["other_buyer"]["token"])
    a = world.auctions

    def create(client: Client, start: str | None, **extra: Any) -> str:
        fields: dict[str, Any] = {"auction": auction_doc(u, start, **extra)}
        if client is admin:
            fields["buyer"] = u["buyer"]["company_id"]
        return str(client.ok("create_auction", **fields)["auction_id"])

    long = {"duration_s": 29 * DAY_S, "decision_duration_s": 29 * DAY_S}
    a["draft"] = create(buyer, None)
    a["pending"] = create(buyer, "2090-01-01T00:00:00Z")
    a["open"] = create(admin, now_iso(), **long)
    a["anonymous"] = create(admin, now_iso(), anonymous_bidding=True, **long)
    short = {"duration_s": 2, "soft_close_s": 0}
    a["decision"] = create(admin, now_iso(), decision_duration_s=29 * DAY_S, **short)
    a["closed"] = create(admin, now_iso(), decision_duration_s=29 * DAY_S, **short)
    a["expired"] = create(admin, now_iso(), decision_duration_s=2, **short)
    a["canceled"] = create(buyer, None)
    buyer.ok("cancel_auction", auction_id=a["canceled"])
    a["others"] = str(
        other.ok("create_auction", auction=auction_doc(u, "2090-01-01T00:00:00Z"))["auction_id"]
    )
    other.close()
    for key in ("open", "anonymous", "decision", "closed", "expired"):
        for client, amount in ((s1, "2.00"), (s2, "1.75")):
            reply = client.ok(
                "place_bids",
                auction_id=a[key],
                bids=[
                    {"product_id": "p1", "amount": amount, "comment": "firm"},
                    {"product_id": "p2", "amount": "3.25", "min_amount": "2.00"},
                ],
            )
            world.bid_ids += reply["bid_ids"]
    for key in ("open", "anonymous"):
        admin.ok("invite_observer", auction_id=a[key], company_id=u["observer"]["company_id"])
        s1.ok("submit_barge", auction_id=a[key], barge={"name": "Barge One", "imo": "9100001"})
        world.comment_ids.append(
            s1.ok("post_comment", auction_id=a[key], text="see you")["comment_id"]
        )
        s2.ok("rsvp", auction_id=a[key], response="yes")
    deadline = time.monotonic() + 30
    while admin.ok("get_view", auction_id=a["expired"])["view"]["status"] != "expired":
        assert time.monotonic() < deadline, "the short auctions did not run out"
        time.sleep(0.2)
    buyer.ok("select_solution", auction_id=a["closed"], solution="best_overall")
    assert admin.ok("get_view", auction_id=a["decision"])["view"]["status"] == "decision"


ROLES = ("admin", "buyer", "s1", "s2", "observer")


@contextmanager
def attacker_world(tmp: Path, *options: str) -> Iterator[World]:
    db = tmp / "attacker.db"
    users = asyncio.run(_add_people(db))
    with serve(db, "--rate", "1000000", *options) as live:
        world = World(live, db, users, {})
        try:
            for role in ROLES:
                world.clients[role] = Client(live.url, users[role]["token"])
            _build(world)
            for role in ROLES:  # every connection also receives pushes while it attacks
                world.clients[role].ok("subscribe_all")
            yield world
        finally:
            for client in world.clients.values():
                client.close()
