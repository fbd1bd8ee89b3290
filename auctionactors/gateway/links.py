"""The client's node side of forwarding (cluster mode): one WebSocket link per other node.

`Links.ask` sends a command to the auction's owner and waits for its answer. When the owner
changes meanwhile (it answers ``moved``, or its link breaks because it died) the command is sent
again, with the same idempotency key, to the next owner once one has taken the partition; a
command without a key that was already sent when the link broke is answered ``timeout`` (it
may have been applied), as on a single node. The whole exchange is bounded by the
supervisor's ``ask_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from auctionactors.cluster.ownership import Ownership
from auctionactors.domain.commands import AnyCommand
from auctionactors.errors import CommandTimedOut, NotOwner, Unavailable
from auctionactors.gateway.forwarding import Answer, Failure, Forward, decode, encode, error_of
from auctionactors.runtime.mailbox import CommandKey, Reply
from auctionactors.runtime.receipts import Receipt
from auctionactors.runtime.supervisor import Supervisor

log = logging.getLogger(__name__)

LINK_PATH = "/cluster"


class LinkBroken(Exception):
    """The link to the owner closed; ``sent``: the command had been written to it."""

    def __init__(self, sent: bool) -> None:
        super().__init__("the link to the owner broke")
        self.sent = sent


class Link:
    """One WebSocket to another node; requests multiplexed by id."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self._secret = secret
        self._ws: ClientConnection | None = None
        self._opening: asyncio.Lock = asyncio.Lock()
        self._waiting: dict[int, asyncio.Future[Answer | Failure]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self.closed = False

    async def _open(self) -> ClientConnection:
        async with self._opening:
            if self._ws is None:
                self._ws = await connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self._secret}"},
                    compression=None,
                    open_timeout=2,
                    max_size=None,
                )
                self._reader = asyncio.get_running_loop().create_task(self._read(self._ws))
            return self._ws

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for data in ws:
                frame = decode(data if isinstance(data, bytes) else data.encode())
                if isinstance(frame, Answer | Failure):
                    future = self._waiting.pop(frame.id, None)
                    if future is not None and not future.done():
                        future.set_result(frame)
        except (WebSocketException, OSError):
            pass
        finally:
            self.close()

    async def ask(self, forward: Forward) -> Answer | Failure:
        try:
            ws = await self._open()
        except (WebSocketException, OSError, TimeoutError) as exc:
            self.close()
            raise LinkBroken(sent=False) from exc
        if self.closed:
            raise LinkBroken(sent=False)
        future: asyncio.Future[Answer | Failure] = asyncio.get_running_loop().create_future()
        self._waiting[forward.id] = future
        try:
            await ws.send(encode(forward))
        except (WebSocketException, OSError) as exc:
            self._waiting.pop(forward.id, None)
            self.close()
            raise LinkBroken(sent=False) from exc
        try:
            return await future
        finally:
            self._waiting.pop(forward.id, None)

    def next_id(self) -> int:
        return next(self._ids)

    def close(self) -> None:
        self.closed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(LinkBroken(sent=True))
        self._waiting.clear()
        ws, self._ws = self._ws, None
        if ws is not None:
            asyncio.get_running_loop().create_task(ws.close())


class Links:
    """The links of this node to the others, opened on first use."""

    def __init__(self, supervisor: Supervisor, ownership: Ownership) -> None:
        self.supervisor = supervisor
        self.ownership = ownership
        self._links: dict[str, Link] = {}
        self.forwarded = 0  # commands answered by another node (status)
        self.retried = 0  # sent again after the owner changed

    @property
    def secret(self) -> str:
        """The node credential (the database's, known once the node has joined)."""
        return self.ownership.secret

    def _link(self, node_id: str) -> Link:
        link = self._links.get(node_id)
        address = self.ownership.peers.get(node_id)
        if address is None:
            raise LinkBroken(sent=False)
        url = address.rstrip("/") + LINK_PATH
        if link is None or link.closed or link.url != url:
            link = self._links[node_id] = Link(url, self.secret)
        return link

    async def ask(
        self, auction_id: str, command: AnyCommand, received_at: int, key: CommandKey | None
    ) -> Reply:
        """The owner's reply to ``command`` (see the module's docstring)."""
        timeout = self.supervisor.config.ask_timeout_s
        sent = False
        try:
            async with asyncio.timeout(timeout):
                while True:
                    owner = self.ownership.owner_of(auction_id)
                    if owner is None or (owner == self.ownership.node_id):
                        with contextlib.suppress(NotOwner):
                            if self.ownership.owns(auction_id):
                                return await self._here(auction_id, command, received_at, key)
                        await self._changed(auction_id, owner)
                        continue
                    try:
                        link = self._link(owner)
                        forward = Forward(link.next_id(), auction_id, command, received_at, key)
                        frame = await link.ask(forward)
                    except LinkBroken as exc:
                        sent = sent or exc.sent
                        if exc.sent and key is None:
                            raise CommandTimedOut(
                                f"node {owner} went away with the command; outcome unknown"
                            ) from None
                        await self._changed(auction_id, owner)
                        self.retried += 1
                        continue
                    if isinstance(frame, Failure):
                        # Moved, or cut short there (its partition lost under the command):
                        # the next owner answers; with a key, an applied command is answered
                        # from its key, never applied twice.
                        if frame.moved or (frame.code == "timeout" and key is not None):
                            await self._changed(auction_id, owner)
                            self.retried += 1
                            continue
                        raise error_of(frame)
                    self.forwarded += 1
                    return Reply(frame.seq, frame.fields)
        except TimeoutError:
            if sent:
                raise CommandTimedOut(f"auction {auction_id}: no owner answered in time") from None
            raise Unavailable(f"auction {auction_id} has no owner yet; retry") from None

    async def _here(
        self, auction_id: str, command: AnyCommand, received_at: int, key: CommandKey | None
    ) -> Reply:
        return await self.supervisor.ask(auction_id, command, receipt=Receipt(received_at), key=key)

    async def _changed(self, auction_id: str, owner: str | None) -> None:
        """Wait until the auction's owner is another than ``owner`` (a round of the node's
        ownership at most: the owners it knows are refreshed every round)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.ownership.config.tick_s * 2):
                await self.ownership.until(lambda: self.ownership.owner_of(auction_id) != owner)

    async def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
