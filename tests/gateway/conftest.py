"""A real gateway on port 0 over the real runtime and SQLite store, and real websockets clients.

The supervisor runs on a `ManualClock`: tests move time by hand where deadlines matter. Every
wait is on a frame, with a timeout; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auctionactors.domain.timestamps import SECOND, format_instant, parse_instant
from auctionactors.gateway.config import GatewayConfig
from auctionactors.gateway.server import Gateway
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor, SupervisorConfig
from auctionactors.store.base import Company, NewUser, Principal, Role
from auctionactors.store.sqlite import SqliteEventStore

T0 = parse_instant("2026-11-27T10:00:00Z")
# An upper bound only (waits end when what they wait for comes): 5 s was seen to run out on a
# loaded 2-core machine in the slow-reader walks of test_subscribe_all and test_buffered.
WAIT_S = 20.0
SUPERVISOR = SupervisorConfig(backoff_base_s=0, backoff_max_s=0, ask_timeout_s=5, max_restarts=2)
FAST = GatewayConfig(port=0, hello_timeout_s=1.5, ping_interval_s=None, close_timeout_s=2.0)


class Directory:
    """The store's accounts, remembering the users the tests create (``users``), so a test can
    look up who is who without another query."""

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store
        self.users: dict[str, Principal] = {}

    async def add_user(self, company_name: str, role: Role, user_name: str) -> NewUser:
        new = await self.store.add_user(company_name, role, user_name)
        principal = await self.store.authenticate(new.token)
        assert principal is not None
        self.users[new.user_id] = principal
        return new

    async def authenticate(self, token: str) -> Principal | None:
        return await self.store.authenticate(token)

    async def company(self, company_id: str) -> Company | None:
        return await self.store.company(company_id)

    async def companies(
        self,
        *,
        roles: Collection[Role] | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[Company]:
        return await self.store.companies(roles=roles, after=after, limit=limit)

    async def user(self, user_id: str) -> Principal | None:
        return await self.store.user(user_id)


@dataclass
class People:
    admin: NewUser
    buyer: NewUser
    s1: NewUser
    s2: NewUser
    s3: NewUser  # a supplier never invited
    other_buyer: NewUser
    observer: NewUser


async def add_people(directory: Directory) -> People:
    return People(
        admin=await directory.add_user("Platform", "admin", "Ada Admin"),
        buyer=await directory.add_user("Aegean Shipping", "buyer", "Bea Buyer"),
        s1=await directory.add_user("Baltic Bunkers", "supplier", "Sam One"),
        s2=await directory.add_user("North Sea Fuels", "supplier", "Sue Two"),
        s3=await directory.add_user("Outsider Oil", "supplier", "Sid Three"),
        other_buyer=await directory.add_user("Other Lines", "buyer", "Otto Other"),
        observer=await directory.add_user("Port Watch", "observer", "Olga Observer"),
    )


@dataclass
class Served:
    gateway: Gateway
    supervisor: Supervisor
    clock: ManualClock
    people: People
    directory: Directory

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def http(self) -> tuple[str, int]:
        return self.gateway.config.host, self.gateway.port


@asynccontextmanager
async def serving(
    path: Path, config: GatewayConfig = FAST, clock: ManualClock | None = None
) -> AsyncIterator[Served]:
    clock = clock or ManualClock(T0)
    async with await SqliteEventStore.open(path) as store:
        directory = Directory(store)
        people = await add_people(directory)
        supervisor = Supervisor(store, clock, config=SUPERVISOR)
        gateway = Gateway(supervisor, directory, config)
        await supervisor.start()
        await gateway.start()
        try:
            yield Served(gateway, supervisor, clock, people, directory)
        finally:
            await gateway.stop()
            await supervisor.stop()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path / "gateway.db") as s:
        yield s


class Conn:
    """A raw protocol client: requests with ids, replies matched, updates kept in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.updates: list[dict[str, Any]] = []
        self.others: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.welcome: dict[str, Any] | None = None

    @classmethod
    async def open(cls, url: str, token: str | None = None, **kwargs: Any) -> Conn:
        conn = cls(await connect(url, compression=None, open_timeout=WAIT_S, **kwargs))
        if token is not None:
            await conn.send({"type": "hello", "token": token})
            conn.welcome = await conn.recv()
            assert conn.welcome["type"] == "welcome", conn.welcome
        return conn

    async def send(self, doc: dict[str, Any]) -> None:
        await self.ws.send(msgspec.json.encode(doc).decode())

    async def recv(self, wait_s: float = WAIT_S) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), wait_s)
        frame: dict[str, Any] = msgspec.json.decode(data)
        return frame

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send and wait for the reply with the same id (updates meanwhile are kept)."""
        request_id = next(self._ids)
        await self.send({"type": type_, "id": request_id, **fields})
        return await self.reply(request_id)

    async def reply(self, request_id: Any) -> dict[str, Any]:
        while True:
            frame = await self.recv()
            if frame["type"] in ("ok", "error") and frame.get("id") == request_id:
                return frame
            self._keep(frame)

    async def ok(self, type_: str, **fields: Any) -> dict[str, Any]:
        frame = await self.request(type_, **fields)
        assert frame["type"] == "ok", frame
        return frame

    async def error(self, type_: str, **fields: Any) -> tuple[str, str]:
        frame = await self.request(type_, **fields)
        assert frame["type"] == "error", frame
        return frame["code"], frame["message"]

    def _keep(self, frame: dict[str, Any]) -> None:
        (self.updates if frame["type"] == "update" else self.others).append(frame)

    async def next_update(self, wait_s: float = WAIT_S) -> dict[str, Any]:
        if self.updates:
            return self.updates.pop(0)
        while True:
            frame = await self.recv(wait_s)
            if frame["type"] == "update":
                return frame
            self.others.append(frame)

    async def update_at(self, auction_id: str, seq: int) -> dict[str, Any]:
        """Updates until the one of ``auction_id`` with ``seq`` (earlier ones are skipped)."""
        while True:
            update = await self.next_update()
            if update["auction_id"] == auction_id and update["seq"] >= seq:
                return update

    async def closed_with(self, wait_s: float = WAIT_S) -> int | None:
        """Read until the server closes; the close code."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), wait_s)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None

    async def close(self) -> None:
        await self.ws.close()


Opener = Callable[..., Awaitable[Conn]]


@pytest.fixture
async def open_conn(served: Served) -> AsyncIterator[Opener]:
    """Open authenticated connections (``await open_conn(served.people.s1)``), closed after."""
    conns: list[Conn] = []

    async def opener(user: NewUser | None = None, **kwargs: Any) -> Conn:
        conn = await Conn.open(served.url, None if user is None else user.token, **kwargs)
        conns.append(conn)
        return conn

    yield opener
    for conn in conns:
        await conn.close()


def spot(
    people: People,
    *,
    start: int | None = T0,
    products: int = 1,
    suppliers: tuple[str, ...] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An ``auction`` object for ``create_auction`` (by default starting at T0: an admin's
    create then opens it at once)."""
    doc: dict[str, Any] = {
        "kind": "spot",
        "port": "Rotterdam",
        "suppliers": list(
            suppliers if suppliers is not None else (people.s1.company_id, people.s2.company_id)
        ),
        "scheduled_start": None if start is None else format_instant(start),
        "products": [
            {
                "vessel": {"name": f"MV Ship {i}", "imo": f"93000{i:02d}"},
                "fuel": "VLSFO 0.5%",
                "quantity_mt": 1500,
                "eta": format_instant(T0 + 86_400 * SECOND),
            }
            for i in range(1, products + 1)
        ],
    }
    doc.update(extra)
    return doc


async def open_auction(admin: Conn, people: People, **kwargs: Any) -> str:
    """An auction created by the admin for the buyer, open at once."""
    reply = await admin.ok(
        "create_auction", buyer=people.buyer.company_id, auction=spot(people, **kwargs)
    )
    return str(reply["auction_id"])


def bid(product_id: str = "p1", amount: str | float = "2.00", **extra: Any) -> dict[str, Any]:
    return {"product_id": product_id, "amount": amount, **extra}
