"""The connection: hello, requests matched to replies, updates in order, reconnection and
retries (see the package's docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import ssl
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from auctionactors.client.errors import COMMANDS, RETRIED_CODES, ClientError, ConnectionLost
from auctionactors.client.paging import Paging
from auctionactors.client.views import Views
from auctionactors.errors import UsageError

log = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
_FINAL_CLOSE_CODES = frozenset({CLOSE_BAD_TOKEN, 4408, 4429})
_END = object()


class Client(Paging):
    def __init__(
        self,
        url: str,
        token: str,
        *,
        reconnect: bool = True,
        open_timeout_s: float = 10.0,
        request_timeout_s: float = 30.0,
        max_backoff_s: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        retry_attempts: int = 8,
        retry_for_s: float = 60.0,
        retry_backoff_s: float = 0.1,
        protocol: int = 2,
    ) -> None:
        """``ssl_context``: for ``wss://`` URLs, e.g. one trusting a private CA
        (``ssl.create_default_context(cafile=...)``); default: the system's trust store.
        ``retry_attempts`` (sends in all, 1 = never retry), ``retry_for_s`` (no new send after
        that long) and ``retry_backoff_s`` (the first pause, doubled each time up to
        ``max_backoff_s``): how a command whose outcome is unknown is retried with its key.
        ``protocol``: the one asked for in ``hello`` (2: patches, bounded views; 1: whole views
        with ``history``); the welcome's is the one in force (`protocol_in_force`)."""
        self.url = url
        self.ssl_context = ssl_context
        self.token = token
        self.reconnect = reconnect
        self.open_timeout_s = open_timeout_s
        self.request_timeout_s = request_timeout_s
        self.max_backoff_s = max_backoff_s
        self.retry_attempts = retry_attempts
        self.retry_for_s = retry_for_s
        self.retry_backoff_s = retry_backoff_s
        self.protocol = protocol
        self.retries = 0  # commands sent again with their key
        self.welcome: dict[str, Any] | None = None
        self._views = Views()
        self.last_seq = self._views.last_seq  # per subscribed auction: the last seq delivered
        self.reconnects = 0
        self._subscribed: set[str] = set()
        self._all: dict[str, Any] | None = None  # the subscribe_all request's fields, once sent
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._updates: asyncio.Queue[Any] = asyncio.Queue()
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._failure: ClientError | None = None

    # --- life -----------------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Connect and say hello; returns the welcome frame. Raises `ClientError`."""
        self._ws = await self._open()
        self._connected.set()
        self._runner = asyncio.get_running_loop().create_task(self._run())
        assert self.welcome is not None
        return self.welcome

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._updates.put_nowait(_END)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- requests -------------------------------------------------------------------------------

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its ``ok`` (its fields are returned, ``type`` and ``id``
        included); raises `ClientError` for an ``error``, `ConnectionLost` if the connection
        drops meanwhile. A command (`COMMANDS`) gets a fresh ``key`` unless ``key=`` is given,
        and is retried with it while its outcome is unknown (see the module's docstring)."""
        if type_ not in COMMANDS:
            return await self._send(type_, fields)
        if fields.get("key") is None:
            fields["key"] = uuid.uuid4().hex
        key: str = fields["key"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for_s  # no send after it
        pause = self.retry_backoff_s
        for attempt in itertools.count(1):
            try:
                late = attempt > 1  # a retry waits for a connection until the deadline at most
                wait_s = max(0.0, deadline - loop.time()) if late else self.request_timeout_s
                return await self._send(type_, fields, wait_s)
            except ClientError as exc:
                if exc is self._failure:
                    raise
                exc.key = key
                if (
                    not self._retried(exc)
                    or attempt >= self.retry_attempts
                    or loop.time() + pause > deadline
                ):
                    raise
                log.info("%s %s: %s; sending it again in %.2f s", type_, key, exc.code, pause)
                await asyncio.sleep(pause * random.uniform(0.8, 1.2))  # jitter: not all at once
                if self._closing:
                    raise
            pause = min(self.max_backoff_s, pause * 2)
            self.retries += 1
        raise AssertionError("unreachable")

    def _retried(self, exc: ClientError) -> bool:
        """Whether a command that failed with ``exc`` is sent again: its outcome is unknown or
        it was not applied, and there is (or will be) a connection to send it on."""
        if exc.code not in RETRIED_CODES or self._failure is not None or self._closing:
            return False
        return self.reconnect or not isinstance(exc, ConnectionLost)

    async def _send(
        self, type_: str, fields: dict[str, Any], wait_s: float | None = None
    ) -> dict[str, Any]:
        """One request, once: waits for the connection while the client reconnects (at most
        ``wait_s``, default ``request_timeout_s``)."""
        if self._failure is not None:
            raise self._failure
        if not self._connected.is_set():  # reconnecting; `_give_up` wakes us if that fails
            try:
                await asyncio.wait_for(
                    self._connected.wait(), self.request_timeout_s if wait_s is None else wait_s
                )
            except TimeoutError:
                raise ClientError("timeout", "not connected in time") from None
            if self._failure is not None:
                raise self._failure
        ws = self._ws
        assert ws is not None
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await ws.send(msgspec.json.encode({"type": type_, "id": request_id, **fields}).decode())
            reply = await asyncio.wait_for(asyncio.shield(future), self.request_timeout_s)
        except ConnectionClosed:
            raise ConnectionLost() from None
        except TimeoutError:
            raise ClientError("timeout", f"no reply to {type_} in time") from None
        finally:
            self._pending.pop(request_id, None)
        if reply.get("type") == "error":
            raise ClientError(str(reply.get("code")), str(reply.get("message")))
        return reply

    async def subscribe(self, auction_id: str, since: int | None = None) -> int:
        """Subscribe (or resume after ``since``); returns the seq the first update will have."""
        self._subscribed.add(auction_id)
        if since is not None:
            self.last_seq[auction_id] = since
        fields: dict[str, Any] = {"auction_id": auction_id}
        if since is not None:
            fields["since"] = since
        reply = await self.request("subscribe", **fields)
        return int(reply["seq"])

    async def unsubscribe(self, auction_id: str) -> None:
        self._subscribed.discard(auction_id)
        await self.request("unsubscribe", auction_id=auction_id)
        self._views.forget(auction_id)

    async def subscribe_all(self, statuses: list[str] | None = None) -> int:
        """Subscribe to every visible auction (protocol 2: those in ``statuses``, by default
        the server's: draft, pending, open, decision); returns how many."""
        self._all = {} if statuses is None else {"statuses": list(statuses)}
        reply = await self.request("subscribe_all", **self._all)
        return int(reply["count"]) if "count" in reply else len(reply.get("auctions", ()))

    @property
    def protocol_in_force(self) -> int:
        """The protocol the server answered in its welcome (1 before connecting)."""
        return int((self.welcome or {}).get("protocol", 1))

    def view(self, auction_id: str) -> dict[str, Any] | None:
        """The receiver's current view of a subscribed auction (as of its last update, patches
        applied), None before its first update. Read-only: updates share parts of it."""
        return self._views.view(auction_id)

    # --- updates --------------------------------------------------------------------------------

    async def next_update(self, wait_s: float | None = None) -> dict[str, Any]:
        """The next update (or ``unsubscribed`` notice); TimeoutError if none comes within
        ``wait_s``, `ClientError` once the client is closed or has given up reconnecting."""
        item = await asyncio.wait_for(self._updates.get(), wait_s)
        if item is _END:
            self._updates.put_nowait(_END)
            raise self._failure or ClientError("closed", "the client is closed")
        update: dict[str, Any] = item
        return update

    async def updates(self) -> AsyncIterator[dict[str, Any]]:
        """Every update in order until the client is closed."""
        while True:
            try:
                yield await self.next_update()
            except ClientError:
                if self._failure is not None:
                    raise
                return

    # --- the connection -------------------------------------------------------------------------

    async def _open(self) -> ClientConnection:
        try:
            tls: dict[str, Any] = {} if self.ssl_context is None else {"ssl": self.ssl_context}
            ws = await connect(
                self.url,
                open_timeout=self.open_timeout_s,
                compression=None,
                max_size=2**24,
                **tls,
            )
        except InvalidURI as exc:
            raise UsageError(f"not a WebSocket URL: {self.url} ({exc})") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ClientError("unavailable", f"cannot connect to {self.url}: {_why(exc)}") from None
        try:
            hello: dict[str, Any] = {"type": "hello", "token": self.token}
            if self.protocol != 1:
                hello["protocol"] = self.protocol
            await ws.send(msgspec.json.encode(hello).decode())
            self.welcome = _decode(await ws.recv())
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code == CLOSE_BAD_TOKEN:
                raise ClientError("unauthenticated", "the server refused the token") from None
            raise ClientError("unavailable", f"the server closed the connection ({code})") from None
        if self.welcome.get("type") != "welcome":
            await ws.close()
            raise ClientError(str(self.welcome.get("code")), str(self.welcome.get("message")))
        self._views.protocol = self.protocol_in_force
        self._views.resumed()
        return ws

    async def _run(self) -> None:
        while True:
            ws = self._ws
            assert ws is not None
            code = await self._read(ws)
            self._connected.clear()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost())
            if self._closing:
                return
            if not self.reconnect or code in _FINAL_CLOSE_CODES:
                self._give_up(ClientError("closed", f"the server closed the connection ({code})"))
                return
            try:
                self._ws = await self._reopen()
            except ClientError as exc:
                self._give_up(exc)
                return
            self._connected.set()
            asyncio.get_running_loop().create_task(self._resubscribe())

    async def _read(self, ws: ClientConnection) -> int | None:
        """Dispatch frames until the connection closes; returns the close code."""
        try:
            async for data in ws:
                self._dispatch(_decode(data))
        except ConnectionClosed:
            pass
        rcvd = ws.protocol.close_rcvd
        return rcvd.code if rcvd is not None else None

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in ("ok", "error"):
            future = self._pending.get(frame.get("id"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(frame)
        elif kind == "update":
            outcome = self._views.update(frame)
            if outcome == "desync":  # resume after the last seq delivered: a fresh view comes
                self._resync(str(frame["auction_id"]))
            elif outcome == "deliver":
                self._subscribed.add(frame["auction_id"])
                self._updates.put_nowait(frame)
        elif kind == "history":
            self._views.history(frame)
        elif kind == "unsubscribed":
            self._subscribed.discard(frame.get("auction_id", ""))
            self._views.forget(frame.get("auction_id", ""))
            self._updates.put_nowait(frame)

    async def _reopen(self) -> ClientConnection:
        delay = 0.05
        while True:
            if self._closing:
                raise ClientError("closed", "the client is closed")
            try:
                ws = await self._open()
            except ClientError as exc:
                if exc.code == "unauthenticated":
                    raise
                log.info("reconnect to %s failed (%s); retrying in %.2f s", self.url, exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.max_backoff_s, delay * 2)
                continue
            self.reconnects += 1
            return ws

    async def _resubscribe(self) -> None:
        """Resume every subscription where it stopped, then subscribe_all again if it was on."""
        try:
            for auction_id in sorted(self._subscribed):
                since = self.last_seq.get(auction_id)
                fields: dict[str, Any] = {"auction_id": auction_id}
                if since is not None:
                    fields["since"] = since
                await self.request("subscribe", **fields)
            if self._all is not None:
                await self.request("subscribe_all", **self._all)
        except ClientError as exc:
            log.info("resubscribing after a reconnect failed: %s", exc)

    def _resync(self, auction_id: str) -> None:
        """A patch did not apply: subscribe again after the last seq delivered (the server
        then sends the events since and a whole view)."""
        since = self.last_seq.get(auction_id)
        fields: dict[str, Any] = {"auction_id": auction_id}
        if since is not None:
            fields["since"] = since
        task = asyncio.get_running_loop().create_task(self._resubscribe_one(fields))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resubscribe_one(self, fields: dict[str, Any]) -> None:
        try:
            await self.request("subscribe", **fields)
        except ClientError as exc:
            log.info("resubscribing %s failed: %s", fields["auction_id"], exc)

    def _give_up(self, failure: ClientError) -> None:
        self._failure = failure
        self._connected.set()  # wake requests waiting for a connection: they raise `failure`
        self._updates.put_nowait(_END)


def _why(exc: BaseException) -> str:
    """A short reason for a failed connection ("connection refused", "timed out")."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):  # its errno (1) would read "not permitted"
        return f"TLS certificate not trusted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    errno_ = getattr(exc, "errno", None)
    if isinstance(errno_, int):
        return os.strerror(errno_).lower()
    return str(exc) or type(exc).__name__


def _decode(data: str | bytes) -> dict[str, Any]:
    frame = msgspec.json.decode(data)
    if not isinstance(frame, dict):
        raise ClientError("bad_frame", "the server sent something other than an object")
    return frame
