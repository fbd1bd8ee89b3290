"""The WebSocket server: thin glue between `websockets` and the sans-I/O session, the hub and the
dispatcher. The only module that imports websockets.

One port: ``/ws`` upgrades to WebSocket; ``/healthz``, ``/metrics`` and ``/`` are answered as
plain HTTP from ``process_request``. Per connection: a reader task stamping and parsing each
frame on arrival (`ReadAhead`, bounded), this handler serving one request at a time, in order,
and a writer task draining the connection's bounded outbox. Limits: frames over
``max_frame_bytes`` close with 1009 (websockets' ``max_size``), no hello in time closes with 4408,
a bad token with 4401, too many connections on one token with 4429, a full outbox with 1013.
Before the hello: frames are rate-limited like requests, and the ``max_refused_before_hello``-th
refused one closes the connection with 1008; one IP address may hold at most
``max_unauthenticated_per_address`` connections that have not completed their hello (a handshake
over that gets HTTP 429; one that slips through at the same moment is closed 4429).

Security at the door: a WebSocket handshake whose ``Origin`` is neither one of the server's own
public origins (derived from its configured address, or ``public_origins``; never the request's
``Host``, see `origins`) nor one of ``allowed_origins`` is refused with HTTP 403, so a page on
another site cannot use a logged-in browser's connection (cross-site WebSocket hijacking);
clients that send no ``Origin`` (programs, not browsers) are let in. Plain HTTP answers GET and
HEAD only (others: 405, with or without a body, see `connection.HttpProtocol`), with the
security headers of `assets.SECURITY_HEADERS` (and HSTS with TLS) and no library version in
``Server``;
``metrics_token`` puts ``/metrics`` behind a bearer token. The tokens of
open connections are checked again every ``token_recheck_s``: a revoked token's connections are
closed with 4401 (new ones are refused at the hello at once). With ``tls_cert`` and ``tls_key``
the port speaks TLS: ``wss://`` and ``https://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import (
    ConnectionClosed,
)
from websockets.http11 import Request, Response
from websockets.protocol import State

from auctionactors.errors import AuctionActorsError, UsageError
from auctionactors.gateway import origins
from auctionactors.gateway.assets import Assets
from auctionactors.gateway.batch import Batch
from auctionactors.gateway.closings import Closings
from auctionactors.gateway.config import GatewayConfig, tls_context
from auctionactors.gateway.connection import Connection, has_body
from auctionactors.gateway.connection import address as address_of
from auctionactors.gateway.dispatch import Dispatcher
from auctionactors.gateway.forwarding import serve_link
from auctionactors.gateway.hub import Hub
from auctionactors.gateway.intake import ReadAhead
from auctionactors.gateway.links import LINK_PATH, Links
from auctionactors.gateway.metrics import Metrics
from auctionactors.gateway.peer import Peer
from auctionactors.gateway.protocol import HelloReceived, Refused, RequestReceived, Session
from auctionactors.gateway.quota import CreationQuota
from auctionactors.gateway.responses import Endpoints
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import Accounts, Principal

log = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_TOO_MANY = 4429
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY = 1008


class Gateway:
    """The hub, the dispatcher and the server around one supervisor.

    Call `Supervisor.start` first, then `start` here, then serve until `stop`. Nothing is
    loaded at start: lists and counts are read from the store's catalog.
    """

    def __init__(
        self,
        supervisor: Supervisor,
        accounts: Accounts,
        config: GatewayConfig | None = None,
        links: Links | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.links = links  # cluster mode: node links in (``/cluster``) and out
        self.accounts = accounts
        self.config = config or GatewayConfig()
        self.hub = Hub(supervisor)
        supervisor.subscribers.append(self.hub)
        self.metrics = Metrics(supervisor, self.hub)
        self.dispatcher = Dispatcher(
            supervisor,
            self.hub,
            accounts,
            CreationQuota(self.config.creates_per_hour, self.config.max_open_auctions),
            links,
            observe=self.metrics.observe_request,
        )
        self._server: Server | None = None
        # The open connections per token (keyed by its sha256), with the token to recheck it.
        self._per_token: dict[str, tuple[str, set[ServerConnection]]] = {}
        self._closings = Closings(self.config.close_timeout_s)
        # Connections that have not completed their hello, per client IP address.
        self._unauthenticated: dict[str, int] = {}
        self._recheck: asyncio.Task[None] | None = None
        self._batch = Batch()
        self._endpoints = Endpoints(
            supervisor,
            self.hub,
            self.metrics,
            Assets.load(),
            metrics_token=self.config.metrics_token,
            tls=self.config.tls_cert is not None,
        )
        self._origins: frozenset[str] = frozenset()  # known once the port is (`start`)
        cfg = self.config
        if (cfg.tls_cert is None) != (cfg.tls_key is None):
            raise UsageError("TLS needs both a certificate and its key")
        self._tls = None if cfg.tls_cert is None else tls_context(cfg.tls_cert, cfg.tls_key or "")

    async def start(self) -> None:
        cfg = self.config
        self._server = await serve(
            self._connection,
            cfg.host,
            cfg.port,
            process_request=self._http,
            process_response=self._endpoints.secure,
            server_header="auctionactors",  # not websockets' version
            create_connection=Connection,
            compression=None,
            max_size=cfg.max_frame_bytes,
            ping_interval=cfg.ping_interval_s,
            ping_timeout=cfg.ping_timeout_s,
            close_timeout=cfg.close_timeout_s,
            write_limit=cfg.write_limit,
            ssl=self._tls,
        )
        self._origins = origins.own_origins(
            cfg.host, self.port, tls=self._tls is not None, public=cfg.public_origins
        ) | frozenset(origins.normalize(o) for o in cfg.allowed_origins)
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
        # Each open connection is closed as `Closings` does, aborted if its peer reads nothing
        # (websockets' own close would wait for its buffer to drain, for ever: a connection
        # whose `subscribe_all` waits for it to read is never cut off).
        for _, conns in list(self._per_token.values()):
            for ws in list(conns):
                self._closings.spawn(ws, 1001, "server shutting down")
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._closings.cancel()
        self._server = None

    # --- HTTP -----------------------------------------------------------------------------------

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD"):
            response = connection.respond(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
            response.headers["Allow"] = "GET, HEAD"
            return response
        if has_body(request.headers):
            return connection.respond(HTTPStatus.BAD_REQUEST, "a request body is not accepted\n")
        path = urlsplit(request.path).path
        if path == LINK_PATH and self.links is not None:
            expected = f"Bearer {self.links.secret}".encode()
            given = (request.headers.get("Authorization") or "").encode()
            if not self.links.secret or not hmac.compare_digest(given, expected):
                return connection.respond(HTTPStatus.UNAUTHORIZED, "not a node of this cluster\n")
            return None
        if path == "/ws":
            if not origins.allowed(request.headers.get_all("Origin"), self._origins):
                return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
            if request.method == "HEAD":  # websockets' answer to a GET (`secure`: no body)
                get = Request(request.path, request.headers, "GET", request.protocol)
                response = connection.protocol.accept(get)
                if response.status_code == HTTPStatus.SWITCHING_PROTOCOLS:  # never with HEAD
                    return connection.respond(
                        HTTPStatus.BAD_REQUEST, "a WebSocket opens with GET\n"
                    )
                return response
            waiting = self._unauthenticated.get(address_of(connection), 0)
            if waiting >= self.config.max_unauthenticated_per_address:
                return connection.respond(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    "too many connections without hello from this address\n",
                )
            return None
        return await self._endpoints.answer(connection, path, request.headers)

    # --- WebSocket ------------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        request = ws.request
        if self.links is not None and request is not None and _is_link(request.path):
            with contextlib.suppress(ConnectionClosed):  # another node (checked in _http)
                await serve_link(self.supervisor, ws, ws.send)
            return
        cfg = self.config
        session = Session(
            rate_per_s=cfg.rate_per_s,
            burst=cfg.burst,
            max_refused_before_hello=cfg.max_refused_before_hello,
        )
        address = address_of(ws)
        waiting = self._unauthenticated.get(address, 0)
        if waiting >= cfg.max_unauthenticated_per_address:  # several handshakes at once
            await ws.close(CLOSE_TOO_MANY, "too many connections without hello from this address")
            return
        self._unauthenticated[address] = waiting + 1
        try:
            hello = await self._hello(ws, session)
        finally:
            self._unauthenticated[address] -= 1
            if not self._unauthenticated[address]:
                del self._unauthenticated[address]
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
        peer = Peer(
            principal, cfg.outbox_size, max_bytes=cfg.outbox_bytes, protocol=session.protocol
        )
        writer = asyncio.create_task(self._write(ws, peer))
        cut_off: list[asyncio.Task[None]] = []
        peer.on_overflow = lambda: cut_off.append(self._cut_off(ws, writer))
        peer.send_now = self._sender(ws)
        peer.backlogged = self._backlogged(ws)
        if isinstance(ws, Connection):
            ws.peer = peer
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
                        if received.close:
                            await ws.close(CLOSE_POLICY, "too many frames refused before hello")
                            return None
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
                        self._closings.spawn(ws, CLOSE_BAD_TOKEN, "token revoked")

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
        finally:  # nothing will be written any more: whoever waits for the outbox stops
            peer.closed = True
            peer.progressed()

    def _sender(self, ws: ServerConnection) -> Callable[[bytes], bool]:
        """`Peer.send_now` for ``ws``: hand a text frame to websockets at once, as its own
        ``broadcast`` does, while the socket's buffer is within the write limit (else False:
        the frame is queued and the writer waits for the buffer to drain). The bytes reach the
        socket at the end of this turn of the event loop (`Batch`), each frame encoded once
        however many connections it goes to (`Batch.send_text`; with websockets' own
        ``send_text`` when it logs frames)."""
        protocol, transport, limit = ws.protocol, ws.transport, self.config.write_limit
        stats, batch = self.hub.stats, self._batch
        logged = protocol.send_text if protocol.debug else None
        opened = State.OPEN  # read once: an enum member costs a lookup in its class each time

        def send_now(frame: bytes) -> bool:
            if protocol.state is not opened or transport.get_write_buffer_size() > limit:
                return False
            if logged is None:
                batch.send_text(ws, frame)
            else:
                logged(frame)
                batch.add(ws)
            stats.sent += 1
            return True

        return send_now

    def _backlogged(self, ws: ServerConnection) -> Callable[[], bool]:
        """`Peer.backlogged` for ``ws``: its buffer is above the write limit while it is open
        (`Connection` wakes the peer when it drains or closes)."""
        protocol, transport, limit = ws.protocol, ws.transport, self.config.write_limit
        opened = State.OPEN

        def backlogged() -> bool:
            return protocol.state is opened and transport.get_write_buffer_size() > limit

        return backlogged

    def _cut_off(self, ws: ServerConnection, writer: asyncio.Task[None]) -> asyncio.Task[None]:
        """The outbox is full: stop writing and close 1013 (the client resumes with since).
        Called from a delivery (`Hub.prepare`), inside an actor: it must not wait, so the close
        is a task."""
        self.hub.stats.slow_closes += 1
        writer.cancel()
        return self._closings.spawn(
            ws, CLOSE_TRY_AGAIN_LATER, "too slow: reconnect and resume with since"
        )


def _is_link(path: str) -> bool:
    return urlsplit(path).path == LINK_PATH
