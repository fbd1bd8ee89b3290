"""The other processes of `bench_fanout`: watchers (a minimal receive-only WebSocket client, an
`asyncio.Protocol` parsing frames itself, many connections per process, driven over a pipe by
`harness.Child`) and the baseline, a bare ``websockets`` broadcast server. Both servers face the
same cheap receivers, so that the receivers are not what is measured."""

from __future__ import annotations

import asyncio
import json
import multiprocessing.connection
import os
import re
import time
from collections.abc import Callable
from typing import Any

import harness

HEADER = re.compile(rb'\{"type":"update","auction_id":"([^"]*)","seq":(\d+)')
Mono = Callable[[], float]
now: Mono = time.monotonic


# --- the watchers: a minimal receive-only WebSocket client --------------------------------------


def _client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (the mask is zeros: valid, and the payload stays as it is)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class Watcher(asyncio.Protocol):
    """One watcher connection: handshake, hello (and ``subscribe_all``), then count the frames
    and record (auction_id, seq, time received) of each update."""

    def __init__(self, host: str, port: int, token: str, subscribe: bool, protocol: int) -> None:
        self.request = (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        hello: dict[str, Any] = {"type": "hello", "token": token}
        if protocol != 1:
            hello["protocol"] = protocol
        self.hello = json.dumps(hello).encode()
        self.subscribe = subscribe
        self.transport: asyncio.Transport | None = None
        self.http = True
        self.setup: list[bytes] | None = []  # frames before streaming (welcome, ok)
        self.ready = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.frames = 0
        self.bytes = 0
        self.first = 0.0
        self.last = 0.0
        self.samples: list[tuple[bytes, int, float]] = []
        self.closed = False

    def reset(self) -> None:
        self.frames = self.bytes = 0
        self.first = self.last = 0.0
        self.samples = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is not a subclass)
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during setup"))

    def data_received(self, data: bytes) -> None:
        t = now()
        buf = self.buf + data if self.buf else data
        if self.http:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(buf[:200].decode(errors="replace"))
            self.http = False
            buf = buf[end + 4 :]
            assert self.transport is not None
            self.transport.write(_client_frame(self.hello))
            if not self.subscribe:
                self.setup = None
                self.ready.set_result(None)
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            hdr = 2
            if b1 == 126:
                if n - pos < 4:
                    break
                b1, hdr = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif b1 == 127:
                if n - pos < 10:
                    break
                b1, hdr = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + hdr + b1
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode in (0, 1, 2):
                self._message(buf, pos + hdr, end, t)
            elif opcode == 9 and self.transport is not None:  # ping: pong
                self.transport.write(_client_frame(buf[pos + hdr : end], 0xA))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
            pos = end
        self.buf = buf[pos:] if pos < n else b""

    def _message(self, buf: bytes, start: int, end: int, t: float) -> None:
        if self.setup is not None:
            self._setup(json.loads(buf[start:end]))
            return
        if not self.frames:
            self.first = t
        self.frames += 1
        self.bytes += end - start
        self.last = t
        match = HEADER.match(buf, start, min(end, start + 120))
        if match is not None:
            self.samples.append((match[1], int(match[2]), t))

    def _setup(self, frame: dict[str, Any]) -> None:
        assert self.transport is not None
        if frame.get("type") == "welcome":
            self.transport.write(_client_frame(b'{"type":"subscribe_all","id":1}'))
        elif frame.get("type") == "ok":
            self.setup = None
            self.ready.set_result(None)
        elif frame.get("type") == "error" or frame.get("type") != "update":
            self.ready.set_exception(ConnectionError(str(frame)))


class WatcherProcess:
    """The watchers of one process, driven by commands over a pipe."""

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol
        self.conns: dict[str, list[Watcher]] = {"ours": [], "bare": []}

    async def connect(
        self, kind: str, host: str, port: int, tokens: list[str], count: int, first: int = 0
    ) -> int:
        """Open ``count`` more connections, the i-th with token ``first + i`` (round robin)."""
        loop = asyncio.get_running_loop()
        for start in range(0, count, 25):
            batch = []
            for i in range(start, min(count, start + 25)):
                token = tokens[(first + i) % len(tokens)]
                _, w = await loop.create_connection(
                    lambda t=token: Watcher(host, port, t, kind == "ours", self.protocol),
                    host,
                    port,
                )
                batch.append(w)
            await asyncio.wait_for(asyncio.gather(*(w.ready for w in batch)), 30)
            self.conns[kind].extend(batch)
        return len(self.conns[kind])

    async def quiet(self, kind: str, quiet_s: float) -> int:
        """Wait until no frame has arrived for ``quiet_s`` (the setup's updates are in)."""
        while True:
            last = max((w.last for w in self.conns[kind]), default=0.0)
            if now() - last >= quiet_s:
                return sum(w.frames for w in self.conns[kind])
            await asyncio.sleep(quiet_s / 4)

    async def expect(self, kind: str, frames: int, timeout_s: float) -> int:
        """Wait until every connection has ``frames`` frames; returns the fewest received."""
        deadline = now() + timeout_s
        while True:
            fewest = min((w.frames for w in self.conns[kind]), default=frames)
            if fewest >= frames or now() > deadline:
                return fewest
            await asyncio.sleep(0.02)

    def reset(self, kind: str) -> None:
        for w in self.conns[kind]:
            w.reset()

    def collect(self, kind: str) -> dict[str, Any]:
        conns = [w for w in self.conns[kind] if w.frames]
        samples: list[tuple[str, int, float]] = []
        for w in conns:
            samples.extend((a.decode(), s, t) for a, s, t in w.samples)
        return {
            "frames": sum(w.frames for w in conns),
            "bytes": sum(w.bytes for w in conns),
            "first": min((w.first for w in conns), default=0.0),
            "last": max((w.last for w in conns), default=0.0),
            "closed": sum(w.closed for w in self.conns[kind]),
            "samples": samples,
        }


async def _watcher_loop(conn: multiprocessing.connection.Connection, protocol: int) -> None:
    loop = asyncio.get_running_loop()
    proc = WatcherProcess(protocol)
    commands: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        try:
            os.set_blocking(conn.fileno(), True)  # (uvloop's add_reader made it non-blocking)
            commands.put_nowait(conn.recv())
        except EOFError:  # the coordinator is gone
            loop.remove_reader(conn.fileno())
            commands.put_nowait(("exit",))

    loop.add_reader(conn.fileno(), readable)
    while True:
        name, *args = await commands.get()
        if name == "exit":
            return
        try:
            method = getattr(proc, name)
            result = method(*args)
            if asyncio.iscoroutine(result):
                result = await result
            conn.send(("ok", result))
        except Exception as exc:  # reported to the coordinator, which stops
            conn.send(("error", repr(exc)))


def watcher_main(conn: multiprocessing.connection.Connection, protocol: int) -> None:
    harness.fast_run(_watcher_loop(conn, protocol))


# --- the baseline: a bare websockets broadcast server -------------------------------------------


def _bare_message(seq: int, size: int) -> bytes:
    head = b'{"type":"update","auction_id":"bare","seq":%d,"pad":"' % seq
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


async def _bare_server(conn: multiprocessing.connection.Connection) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    watchers: set[ServerConnection] = set()

    async def control(ws: ServerConnection, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd["cmd"] == "count":
            return {"watchers": len(watchers)}
        count, size = cmd["count"], cmd["size"]
        messages = [_bare_message(seq, size) for seq in range(1, count + 1)]
        targets = list(watchers)
        if cmd["cmd"] == "burst":
            t0 = now()
            for message in messages:
                broadcast(targets, message, text=True)
            return {"t0": t0, "sent": {}}
        interval = 1 / cmd["rate"]
        t0 = now() + 0.05
        sent: dict[int, float] = {}
        for seq, message in enumerate(messages, 1):
            delay = t0 + (seq - 1) * interval - now()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[seq] = now()
            broadcast(targets, message, text=True)
        return {"t0": t0, "sent": sent}

    async def handler(ws: ServerConnection) -> None:
        first = json.loads(await ws.recv())
        if first.get("type") != "control":
            watchers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                watchers.discard(ws)
            return
        async for raw in ws:
            await ws.send(json.dumps(await control(ws, json.loads(raw))))

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: done.done() or done.set_result(None))
        await done


def bare_main(conn: multiprocessing.connection.Connection, loop: str) -> None:
    harness.run_on(loop, _bare_server(conn))
