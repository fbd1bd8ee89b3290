"""The WebSocket server: thin glue between `websockets` and the sans-I/O session, the hub and the
dispatcher. The only module that imports websockets.

One port: ``/ws`` upgrades to WebSocket; ``/healthz``, ``/metrics`` and ``/`` are answered as
plain HTTP from ``process_request``. Per connection: a reader (this handler: one request at a
time, in order) and a writer task draining the connection's bounded outbox. Limits: frames over
``max_frame_bytes`` close with 1009 (websockets' ``max_size``), no hello in time closes with 4408,
a bad token with 4401, too many connections on one token with 4429, a full outbox with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from collections import Counter
from http import HTTPStatus
from importlib import resources
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from auctionactors.errors import AuctionActorsError
from auctionactors.gateway import metrics
from auctionactors.gateway.dispatch import Dispatcher
from auctionactors.gateway.hub import Hub, Peer
from auctionactors.gateway.protocol import HelloReceived, Refused, RequestReceived, Session
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import Accounts, Principal

log = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
CLOSE_TRY_AGAIN_LATER = 1013


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port (see `Gateway.port`)
    max_frame_bytes: int = 64 * 1024
    hello_timeout_s: float = 10.0
    outbox_size: int = 512  # frames waiting for one connection before it is cut off
    rate_per_s: float = 50.0  # requests per second per connection, in bursts of `burst`
    burst: float = 100.0
    max_connections_per_token: int = 16
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0
    close_timeout_s: float = 5.0
    write_limit: int = 32 * 1024  # bytes buffered by websockets before a send waits
    # SO_SNDBUF per connection: None leaves the kernel's autotuning, which may buffer megabytes
    # for a reader that stopped reading before its outbox fills up.
    socket_send_buffer: int | None = None


def _page() -> bytes:
    return resources.files("auctionactors.gateway").joinpath("static/index.html").read_bytes()


class Gateway:
    """The hub, the dispatcher and the server around one supervisor.

    Call `Supervisor.start` first, then `start` here (it indexes every auction), then serve
    until `stop`.
    """

    def __init__(
        self, supervisor: Supervisor, accounts: Accounts, config: GatewayConfig | None = None
    ) -> None:
        self.supervisor = supervisor
        self.accounts = accounts
        self.config = config or GatewayConfig()
        self.hub = Hub(supervisor)
        supervisor.subscribers.append(self.hub)
        self.dispatcher = Dispatcher(supervisor, self.hub, accounts)
        self._server: Server | None = None
        self._per_token: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()
        self._page = _page()

    async def start(self) -> None:
        await self.hub.load()
        cfg = self.config
        self._server = await serve(
            self._connection,
            cfg.host,
            cfg.port,
            process_request=self._http,
            compression=None,
            max_size=cfg.max_frame_bytes,
            ping_interval=cfg.ping_interval_s,
            ping_timeout=cfg.ping_timeout_s,
            close_timeout=cfg.close_timeout_s,
            write_limit=cfg.write_limit,
        )

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws"

    async def stop(self) -> None:
        """Stop accepting, close every connection with 1001 and wait for their handlers."""
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        for task in list(self._closing):
            task.cancel()
        self._server = None

    # --- HTTP -----------------------------------------------------------------------------------

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/ws":
            return None
        if path == "/healthz":
            body = metrics.healthz(self.supervisor, self.hub)
            return _respond(connection, HTTPStatus.OK, "application/json", body)
        if path == "/metrics":
            text = metrics.render(self.supervisor, self.hub).encode()
            return _respond(connection, HTTPStatus.OK, metrics.CONTENT_TYPE, text)
        if path in ("/", "/index.html"):
            return _respond(connection, HTTPStatus.OK, "text/html; charset=utf-8", self._page)
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    # --- WebSocket ------------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        cfg = self.config
        session = Session(rate_per_s=cfg.rate_per_s, burst=cfg.burst)
        hello = await self._hello(ws, session)
        if hello is None:
            return
        principal, token_key = hello
        if self._per_token[token_key] >= cfg.max_connections_per_token:
            await ws.close(CLOSE_TOO_MANY, "too many connections for this token")
            return
        self._per_token[token_key] += 1
        if cfg.socket_send_buffer is not None:
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cfg.socket_send_buffer)
        peer = Peer(principal, cfg.outbox_size)
        writer = asyncio.create_task(self._write(ws, peer))
        cut_off: list[asyncio.Task[None]] = []
        peer.on_overflow = lambda: cut_off.append(self._cut_off(ws, writer))
        self.hub.add(peer)
        try:
            self.hub.send(peer, session.accept(principal, self.supervisor.clock.now()))
            loop = asyncio.get_running_loop()
            async for data in ws:
                if peer.closed:
                    break
                received = session.receive(data, loop.time())
                if isinstance(received, RequestReceived):
                    await self.dispatcher.handle(peer, received.request)
                elif isinstance(received, Refused):
                    self.hub.send(peer, received.frame)
        except ConnectionClosed:
            pass
        finally:
            self.hub.drop(peer)
            self._per_token[token_key] -= 1
            if not self._per_token[token_key]:
                del self._per_token[token_key]
            writer.cancel()
            for task in cut_off:  # leaving now would close 1000 before the 1013 is sent
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _hello(self, ws: ServerConnection, session: Session) -> tuple[Principal, str] | None:
        """Wait for a hello with a good token; close 4408 / 4401 otherwise."""
        loop = asyncio.get_running_loop()
        token: str | None = None
        try:
            async with asyncio.timeout(self.config.hello_timeout_s):
                while token is None:
                    received = session.receive(await ws.recv(), loop.time())
                    if isinstance(received, Refused):
                        await ws.send(received.frame, text=True)
                    elif isinstance(received, HelloReceived):
                        token = received.token
                principal = await self.accounts.authenticate(token)
        except TimeoutError:
            await ws.close(CLOSE_HELLO_TIMEOUT, "no hello in time")
            return None
        except ConnectionClosed:
            return None
        except AuctionActorsError as exc:
            log.warning("authentication failed: %r", exc)
            await ws.close(1011, "authentication is unavailable; retry later")
            return None
        if principal is None:
            await ws.close(CLOSE_BAD_TOKEN, "bad token")
            return None
        return principal, hashlib.sha256(token.encode()).hexdigest()

    async def _write(self, ws: ServerConnection, peer: Peer) -> None:
        """Drain the outbox in order. Only this task writes frames after the hello."""
        try:
            while True:
                await peer.wakeup.wait()
                peer.wakeup.clear()
                while peer.outbox and not peer.overflowed:
                    await ws.send(peer.outbox.popleft(), text=True)
                    self.hub.stats.sent += 1
        except ConnectionClosed:
            pass

    def _cut_off(self, ws: ServerConnection, writer: asyncio.Task[None]) -> asyncio.Task[None]:
        """The outbox is full: stop writing and close 1013 (the client resumes with since).
        Called from `Hub.publish`, inside an actor: it must not wait, so the close is a task."""
        self.hub.stats.slow_closes += 1
        writer.cancel()
        task = asyncio.get_running_loop().create_task(
            self._close(ws, CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and resume with since")
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def _close(self, ws: ServerConnection, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self.config.close_timeout_s):
                await ws.close(code, reason)
        except TimeoutError:  # the peer reads nothing, not even the close frame
            ws.transport.abort()


def _respond(
    connection: ServerConnection, status: HTTPStatus, content_type: str, body: bytes
) -> Response:
    response = connection.respond(status, "")
    del response.headers["Content-Type"]
    del response.headers["Content-Length"]
    response.headers["Content-Type"] = content_type
    response.headers["Content-Length"] = str(len(body))
    response.body = body
    response.headers["Cache-Control"] = "no-store"
    return response
