"""The server's WebSocket connections, below the gateway: websockets' `ServerConnection` with a
protocol that reads a request with a body (to answer it 405) instead of dropping it, and that
wakes its `Peer` when the socket's buffer drains or the connection is lost (`Peer.drained`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import (
    HeaderLineTooLong,
    InvalidMessage,
    RequestLineTooLong,
    TooManyHeaders,
)
from websockets.http11 import Request, parse_headers, parse_line
from websockets.server import ServerProtocol

from auctionactors.gateway.peer import Peer


class HttpProtocol(ServerProtocol):
    """websockets' server protocol, except that a request with a body is read (up to its
    headers) rather than refused by dropping the connection: so that a POST, or any method, is
    answered (405 by the gateway) instead of meeting a closed socket. The body itself is
    discarded as it arrives, never kept. The rest is websockets' own `ServerProtocol.parse`."""

    def parse(self) -> Generator[None]:
        try:
            request = yield from read_request(self.reader.read_line)
        except RequestLineTooLong as exc:
            self.handshake_exc = exc
            self.send_response(self.reject(HTTPStatus.REQUEST_URI_TOO_LONG, f"{exc}.\n"))
            yield
        except (HeaderLineTooLong, TooManyHeaders) as exc:
            self.handshake_exc = exc
            status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            self.send_response(self.reject(status, f"{exc}.\n"))
            yield
        except Exception as exc:
            self.handshake_exc = InvalidMessage("did not receive a valid HTTP request")
            self.handshake_exc.__cause__ = exc
            self.send_eof()
            self.parser = self.discard()
            next(self.parser)
            yield
        self.events.append(request)
        if has_body(request.headers):  # answered (400 or 405) without reading what follows
            while not (yield from self.reader.at_eof()):
                self.reader.discard()
            yield
        yield from super(ServerProtocol, self).parse()  # frames, as websockets does


def read_request(
    read_line: Callable[[int, type[Exception]], Generator[None, None, bytes | bytearray]],
) -> Generator[None, None, Request]:
    """`Request.parse` without its refusal of a body (and otherwise as strict)."""
    line = yield from parse_line(read_line, RequestLineTooLong)
    method, path, version = line.split(b" ", 2)
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise ValueError("unsupported protocol; expected HTTP/1.1 or HTTP/1.0")
    headers = yield from parse_headers(read_line)
    return Request(path.decode("ascii"), headers, method.decode("ascii"), version.decode())


def has_body(headers: Headers) -> bool:
    return "Transfer-Encoding" in headers or not set(headers.get_all("Content-Length")) <= {"0"}


class Connection(ServerConnection):
    """The server's connections, with `HttpProtocol` (`serve` makes a plain `ServerProtocol`,
    which has not read anything yet: its parser is simply started again), and which wake their
    `Peer` when the socket's buffer drains (`Peer.drained`)."""

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        protocol.__class__ = HttpProtocol
        protocol.parser = protocol.parse()
        next(protocol.parser)
        super().__init__(protocol, *args, **kwargs)
        self.peer: Peer | None = None  # once authenticated: woken as its socket drains

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.peer is not None:
            self.peer.progressed()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.peer is not None:  # nothing more will be written: stop waiting for it
            self.peer.closed = True
            self.peer.progressed()


def address(connection: ServerConnection) -> str:
    """The client's IP address (behind a proxy: the proxy's)."""
    remote = connection.remote_address
    return str(remote[0]) if isinstance(remote, tuple) and remote else str(remote)
