"""The WebSocket server: thin glue between `websockets` and the sans-I/O session, the hub and the
dispatcher. The only module that imports websockets.

One port: ``/ws`` upgrades to WebSocket; ``/healthz``, ``/metrics`` and ``/`` are answered as
plain HTTP from ``process_request``. Per connection: a reader task stamping and parsing each
frame on arrival (`ReadAhead`, bounded), this handler serving one request at a time, in order,
and a writer task draining the connection's bounded outbox. Limits: frames over
``max_frame_bytes`` close with 1009 (websockets' ``max_size``), no hello in time closes with 4408,
a bad token with 4401, too many connections on one token with 4429, a full outbox with 1013.

Security at the door: a WebSocket handshake whose ``Origin`` is neither the server's own origin
(the ``Host`` it was reached on) nor one of ``allowed_origins`` is refused with HTTP 403, so a
page on another site cannot use a logged-in browser's connection (cross-site WebSocket
hijacking); clients that send no ``Origin`` (programs, not browsers) are let in. The tokens of
open connections are checked again every ``token_recheck_s``: a revoked token's connections are
closed with 4401 (new ones are refused at the hello at once). With ``tls_cert`` and ``tls_key``
the port speaks TLS: ``wss://`` and ``https://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import ssl
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from auctionactors.errors import AuctionActorsError, UsageError
from auctionactors.gateway import metrics
from auctionactors.gateway.assets import Assets
from auctionactors.gateway.dispatch import Dispatcher
from auctionactors.gateway.hub import Hub, Peer
from auctionactors.gateway.intake import ReadAhead
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
    outbox_bytes: int = 4 * 1024 * 1024  # ... or bytes (one frame, however large, always fits)
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
    # Origins (``https://example.com``) whose pages may open WebSockets besides our own.
    allowed_origins: tuple[str, ...] = ()
    token_recheck_s: float | None = 10.0  # how soon a revoked token's connections are closed
    tls_cert: str | None = None  # PEM files: both set, the port speaks TLS (wss://, https://)
    tls_key: str | None = None


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server TLS context from PEM files; `UsageError` naming the file if they do not load."""
    for path in (cert, key):
        if not os.path.isfile(path):
            raise UsageError(f"no TLS file {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"cannot load the TLS certificate {cert} with key {key}: {exc}") from None
    return context


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
        # The open connections per token (keyed by its sha256), with the token to recheck it.
        self._per_token: dict[str, tuple[str, set[ServerConnection]]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._recheck: asyncio.Task[None] | None = None
        self._batch = _Batch()
        self._assets = Assets.load()
        self._origins = frozenset(o.rstrip("/").lower() for o in self.config.allowed_origins)
        cfg = self.config
        if (cfg.tls_cert is None) != (cfg.tls_key is None):
            raise UsageError("TLS needs both a certificate and its key")
        self._tls = None if cfg.tls_cert is None else tls_context(cfg.tls_cert, cfg.tls_key or "")

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
            ssl=self._tls,
        )
        if cfg.token_recheck_s is not None:
            self._recheck = asyncio.create_task(self._recheck_tokens(cfg.token_recheck_s))

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        scheme = "ws" if self._tls is None else "wss"
        return f"{scheme}://{self.config.host}:{self.port}/ws"

    async def stop(self) -> None:
        """Stop accepting, close every connection with 1001 and wait for their handlers."""
        if self._server is None:
            return
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        for task in list(self._closing):
            task.cancel()
        self._server = None

    # --- HTTP -----------------------------------------------------------------------------------

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/ws":
            if self._origin_allowed(request):
                return None
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        if path == "/healthz":
            body = metrics.healthz(self.supervisor, self.hub)
            return _respond(connection, HTTPStatus.OK, "application/json", body)
        if path == "/metrics":
            text = metrics.render(self.supervisor, self.hub).encode()
            return _respond(connection, HTTPStatus.OK, metrics.CONTENT_TYPE, text)
        asset = self._assets.get(path)  # the web page: / and /static/...
        if asset is not None:
            return _respond(
                connection, HTTPStatus.OK, asset.content_type, asset.body, asset.headers
            )
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    def _origin_allowed(self, request: Request) -> bool:
        """No ``Origin`` (not a browser), our own origin, or one of ``allowed_origins``."""
        origins = request.headers.get_all("Origin")
        if not origins:
            return True
        if len(origins) > 1:
            return False
        origin = origins[0].rstrip("/").lower()
        if origin in self._origins:
            return True
        host = request.headers.get("Host")
        parts = urlsplit(origin)
        return (
            host is not None
            and parts.scheme in ("http", "https")
            and parts.netloc == host.lower()
            and not parts.path
        )

    # --- WebSocket ------------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        cfg = self.config
        session = Session(rate_per_s=cfg.rate_per_s, burst=cfg.burst)
        hello = await self._hello(ws, session)
        if hello is None:
            return
        principal, token_key, token = hello
        _, same_token = self._per_token.setdefault(token_key, (token, set()))
        if len(same_token) >= cfg.max_connections_per_token:
            await ws.close(CLOSE_TOO_MANY, "too many connections for this token")
            return
        same_token.add(ws)
        if cfg.socket_send_buffer is not None:
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cfg.socket_send_buffer)
        peer = Peer(principal, cfg.outbox_size, max_bytes=cfg.outbox_bytes)
        writer = asyncio.create_task(self._write(ws, peer))
        cut_off: list[asyncio.Task[None]] = []
        peer.on_overflow = lambda: cut_off.append(self._cut_off(ws, writer))
        peer.send_now = self._sender(ws)
        self.hub.add(peer)
        frames = ReadAhead(ws, session, self.supervisor)  # reads only after the accept below
        try:
            self.hub.send(peer, session.accept(principal, self.supervisor.clock.now()))
            async for received, receipt in frames:
                try:
                    if peer.closed:
                        break
                    if isinstance(received, RequestReceived):
                        await self.dispatcher.handle(peer, received.request, receipt)
                    elif isinstance(received, Refused):
                        self.hub.send(peer, received.frame)
                finally:
                    receipt.release()
        except ConnectionClosed:
            pass
        finally:
            frames.close()
            self.hub.drop(peer)
            same_token.discard(ws)
            if not same_token:
                del self._per_token[token_key]
            writer.cancel()
            for task in cut_off:  # leaving now would close 1000 before the 1013 is sent
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _hello(
        self, ws: ServerConnection, session: Session
    ) -> tuple[Principal, str, str] | None:
        """Wait for a hello with a good token; close 4408 / 4401 otherwise. Returns the
        principal, the key the connection is counted under and the token."""
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
        return principal, hashlib.sha256(token.encode()).hexdigest(), token

    async def _recheck_tokens(self, interval_s: float) -> None:
        """Close (4401) every open connection whose token was revoked since its hello."""
        while True:
            await asyncio.sleep(interval_s)
            for token, conns in list(self._per_token.values()):
                try:
                    principal = await self.accounts.authenticate(token)
                except AuctionActorsError as exc:  # the store is down: check again next time
                    log.warning("token recheck failed: %r", exc)
                    break
                if principal is None:
                    for ws in list(conns):
                        self._spawn_close(ws, CLOSE_BAD_TOKEN, "token revoked")

    async def _write(self, ws: ServerConnection, peer: Peer) -> None:
        """Drain the outbox in order. Only this task writes frames after the hello."""
        try:
            while True:
                await peer.wakeup.wait()
                peer.wakeup.clear()
                while peer.outbox and not peer.overflowed:
                    await ws.send(peer.pop(), text=True)
                    self.hub.stats.sent += 1
        except ConnectionClosed:
            pass

    def _sender(self, ws: ServerConnection) -> Callable[[bytes], bool]:
        """`Peer.send_now` for ``ws``: hand a text frame to websockets at once, as its own
        ``broadcast`` does, while the socket's buffer is within the write limit (else False:
        the frame is queued and the writer waits for the buffer to drain). The bytes reach the
        socket at the end of this turn of the event loop (`_Batch`)."""
        protocol, transport, limit = ws.protocol, ws.transport, self.config.write_limit
        stats, batch = self.hub.stats, self._batch

        def send_now(frame: bytes) -> bool:
            if protocol.state is not State.OPEN or transport.get_write_buffer_size() > limit:
                return False
            protocol.send_text(frame)
            batch.add(ws)
            stats.sent += 1
            return True

        return send_now

    def _cut_off(self, ws: ServerConnection, writer: asyncio.Task[None]) -> asyncio.Task[None]:
        """The outbox is full: stop writing and close 1013 (the client resumes with since).
        Called from `Hub.publish`, inside an actor: it must not wait, so the close is a task."""
        self.hub.stats.slow_closes += 1
        writer.cancel()
        return self._spawn_close(
            ws, CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and resume with since"
        )

    def _spawn_close(self, ws: ServerConnection, code: int, reason: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._close(ws, code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def _close(self, ws: ServerConnection, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self.config.close_timeout_s):
                await ws.close(code, reason)
        except TimeoutError:  # the peer reads nothing, not even the close frame
            ws.transport.abort()


class _Batch:
    """Connections with frames handed to websockets but not yet to the socket: flushed once at
    the end of the event loop's turn, with one write each, so that a burst of updates costs a
    system call per connection rather than one per frame (what dominates a large fan-out)."""

    def __init__(self) -> None:
        self._dirty: dict[ServerConnection, None] = {}  # an ordered set
        self._scheduled = False

    def add(self, ws: ServerConnection) -> None:
        self._dirty[ws] = None
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, {}
        for ws in dirty:
            chunks = ws.protocol.data_to_send()  # empty if websockets has written them meanwhile
            if ws.transport.is_closing() or not chunks:
                continue
            if all(chunks):
                ws.transport.write(b"".join(chunks))
            else:  # an end-of-stream marker after a close frame: websockets' own way
                for chunk in chunks:
                    if chunk:
                        ws.transport.write(chunk)
                    elif ws.transport.can_write_eof():
                        ws.transport.write_eof()
                    else:
                        ws.transport.close()


def _respond(
    connection: ServerConnection,
    status: HTTPStatus,
    content_type: str,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> Response:
    response = connection.respond(status, "")
    del response.headers["Content-Type"]
    del response.headers["Content-Length"]
    response.headers["Content-Type"] = content_type
    response.headers["Content-Length"] = str(len(body))
    response.body = body
    for name, value in (headers or {"Cache-Control": "no-store"}).items():
        response.headers[name] = value
    return response
