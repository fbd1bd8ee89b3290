"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and an HTTP server
(aiohttp) for webhooks, each on its own thread and event loop, so that a test can use them
whether the sender runs in its own loop or in another process. Both record what they accepted
and can be taken down (connections refused, or answered 503) and brought back.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Waitable:
    def __init__(self) -> None:
        self._cond = threading.Condition()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Block until ``condition()`` holds (checked on every arrival); fail after
        ``timeout`` seconds (a bound on a hang, not a timed assertion)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the receiver never got what was expected")
                self._cond.wait(left)

    def _arrived(self) -> None:
        with self._cond:
            self._cond.notify_all()


@dataclass(frozen=True)
class Mail:
    message_id: str
    to: str
    subject: str
    body: str


class MailSink(_Waitable):
    """An SMTP server on 127.0.0.1 that accepts every mail (250) and keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.mails: list[Mail] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body()
        text = body.get_content() if body is not None else ""
        with self._cond:
            for rcpt in envelope.rcpt_tos:
                self.mails.append(Mail(str(msg["Message-ID"]), rcpt, str(msg["Subject"]), text))
        self._arrived()
        return "250 OK"

    def up(self) -> MailSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ids(self) -> list[str]:
        with self._cond:
            return [m.message_id for m in self.mails]


@dataclass
class Hook:
    delivery_id: str
    signature: str
    body: dict[str, Any]
    raw: bytes = field(repr=False)


class HookSink(_Waitable):
    """An HTTP server on 127.0.0.1 taking webhook POSTs: 200 and kept while up, 503 while
    ``failing`` (the receiver is there but unwell)."""

    def __init__(self, secret: str = "s3cret") -> None:
        super().__init__()
        self.secret = secret
        self.port = free_port()
        self.hooks: list[Hook] = []
        self.refused = 0
        self.failing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _take(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.failing:
            with self._cond:
                self.refused += 1
            self._arrived()
            return web.Response(status=503)
        hook = Hook(
            request.headers["X-Auctionactors-Delivery"],
            request.headers["X-Auctionactors-Signature"],
            json.loads(raw),
            raw,
        )
        with self._cond:
            self.hooks.append(hook)
        self._arrived()
        return web.Response(status=200)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def up(self) -> HookSink:
        if not self._thread.is_alive():
            self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def down(self) -> None:
        """Stop listening: connections are refused until `up`."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def signed(self, hook: Hook) -> bool:
        expected = "sha256=" + hmac.new(self.secret.encode(), hook.raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, hook.signature)

    def ids(self) -> list[str]:
        with self._cond:
            return [h.delivery_id for h in self.hooks]


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    """A real SMTP server for a test (tests/conftest.py makes it every test's)."""
    sink = MailSink().up()
    yield sink
    sink.down()


@pytest.fixture
def hook() -> Iterator[HookSink]:
    """A real HTTP server receiving webhooks for a test."""
    sink = HookSink().up()
    yield sink
    sink.close()


def child_main(conn: Any) -> None:
    """A child process (`scripts/harness.Child`) holding both receivers until told to exit:
    ``where`` answers their addresses, ``counts`` what they got (scripts/bench_reactor.py)."""
    mail, hook = MailSink().up(), HookSink().up()
    while True:
        command = conn.recv()
        if command[0] == "exit":
            break
        if command[0] == "where":
            conn.send(("ok", (mail.address, hook.url, hook.secret)))
        elif command[0] == "counts":
            conn.send(("ok", (len(mail.mails), len(hook.hooks))))
    mail.down()
    hook.close()
