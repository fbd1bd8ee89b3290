"""The protocol session, sans I/O: frames in, decisions out (PROTOCOL.md, "Session").

Like websockets' own protocol core, this module never imports asyncio and never touches a
socket: `Session.receive` takes one frame (and the time, for the rate limit) and says what it is
(a hello to authenticate, a typed request to dispatch) or gives the error frame to send back.
So every rule of the session (hello first, malformed frames, rate limits) is tested with plain
function calls, and the server glue only moves bytes.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from auctionactors.domain.timestamps import Instant, format_instant
from auctionactors.errors import ErrorCode
from auctionactors.gateway.messages import AnyFrame, Hello, Request, RequestId
from auctionactors.store.base import Principal

PROTOCOL_VERSION = 1  # what a client that does not say gets
PROTOCOLS = (1, 2)  # what a hello may ask for

_decoder = msgspec.json.Decoder(AnyFrame)
_encoder = msgspec.json.Encoder()
_UNKNOWN_TYPE = re.compile(r"^Invalid value (.*) - at `\$\.type`$")


class _Probe(msgspec.Struct):
    """Just the ``id`` of a frame that failed to parse, to echo it in the error."""

    id: RequestId | None = None


_probe = msgspec.json.Decoder(_Probe)


class Phase(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    AUTHENTICATING = "authenticating"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class HelloReceived:
    """Check this token: then call `Session.accept` (and send its welcome) or close 4401.
    ``protocol`` is the one the client asked for (and gets)."""

    token: str
    protocol: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A well-formed request from an authenticated client, to dispatch."""

    request: Request


@dataclass(frozen=True, slots=True)
class Refused:
    """The frame is refused; send ``frame`` (an error) back. The connection stays usable unless
    ``close`` is set: too many frames refused before the hello (close it, 1008)."""

    frame: bytes
    code: ErrorCode
    close: bool = False


Received = HelloReceived | RequestReceived | Refused


class TokenBucket:
    """Requests per second with bursts: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last: float | None = None

    def take(self, now: float) -> bool:
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Session:
    """One client's session: hello first, then rate-limited requests.

    ``now`` is any monotonic time in seconds (the caller's clock), used only by the rate limit.
    Frames before the hello are rate-limited too, and an unauthenticated client gets only
    ``max_refused_before_hello`` refusals (a wrong frame, a frame too many): the last one says
    to close the connection, so that nobody without a token can make the server answer at will.
    """

    def __init__(
        self, *, rate_per_s: float = 50.0, burst: float = 100.0, max_refused_before_hello: int = 8
    ) -> None:
        self.phase = Phase.AWAITING_HELLO
        self.principal: Principal | None = None
        self.protocol = PROTOCOL_VERSION  # the one in force, once the hello is taken
        self._bucket = TokenBucket(rate_per_s, burst)
        self._refusals_left = max_refused_before_hello

    def receive(self, data: str | bytes, now: float) -> Received:
        received = self._receive(data, now)
        if isinstance(received, Refused) and self.phase is not Phase.READY:
            self._refusals_left -= 1
            if self._refusals_left <= 0:
                return Refused(received.frame, received.code, close=True)
        return received

    def _receive(self, data: str | bytes, now: float) -> Received:
        if not self._bucket.take(now):
            return _refuse(_read_id(data), "rate_limited", "too many requests; slow down")
        if not isinstance(data, str):
            return _refuse(None, "bad_request", "binary frames are not supported; send text")
        parsed = parse(data)
        if isinstance(parsed, Refused):
            return parsed
        if isinstance(parsed, Hello):
            if self.phase is not Phase.AWAITING_HELLO:
                return _refuse(parsed.id, "bad_request", "hello was already sent")
            if parsed.protocol not in PROTOCOLS:
                speaks = " and ".join(str(p) for p in PROTOCOLS)
                return _refuse(
                    parsed.id,
                    "bad_request",
                    f"protocol {parsed.protocol} is not supported; this server speaks {speaks}",
                )
            self.phase = Phase.AUTHENTICATING
            self.protocol = parsed.protocol
            return HelloReceived(parsed.token, parsed.protocol)
        if self.phase is not Phase.READY:
            return _refuse(parsed.id, "unauthenticated", "send hello with a token first")
        return RequestReceived(parsed)

    def accept(self, principal: Principal, server_time: Instant) -> bytes:
        """The token was good: the session is ready; returns the welcome frame."""
        self.phase = Phase.READY
        self.principal = principal
        self._bucket = TokenBucket(self._bucket.rate, self._bucket.burst)  # a full one
        return welcome(principal, server_time, self.protocol)


def parse(text: str) -> Hello | Request | Refused:
    """Decode and validate one text frame."""
    try:
        frame: Hello | Request = _decoder.decode(text)
    except msgspec.ValidationError as exc:  # (a subclass of DecodeError)
        return _refuse(_read_id(text), "bad_request", _describe(exc))
    except msgspec.DecodeError as exc:
        return _refuse(None, "bad_request", f"malformed JSON: {exc}")
    except RecursionError:  # msgspec's own depth guard: raised, not a DecodeError
        return _refuse(None, "bad_request", "malformed JSON: nested too deeply")
    return frame


def _describe(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    unknown = _UNKNOWN_TYPE.match(message)
    if unknown is not None:
        return f"unknown request type {unknown.group(1)}"
    if message == "Object missing required field `type`":
        return "a frame needs a `type`"
    return message


def _read_id(data: str | bytes) -> RequestId | None:
    if not isinstance(data, str):
        return None
    try:
        return _probe.decode(data).id
    except (msgspec.DecodeError, RecursionError):
        return None


def _refuse(request_id: RequestId | None, code: ErrorCode, message: str) -> Refused:
    return Refused(error(request_id, code, message), code)


# --- outgoing frames --------------------------------------------------------------------------


def encode(doc: Mapping[str, Any]) -> bytes:
    return _encoder.encode(doc)


def ok(request_id: RequestId | None, fields: Mapping[str, Any] | None = None) -> bytes:
    return _encoder.encode({"type": "ok", "id": request_id, **(fields or {})})


def error(request_id: RequestId | None, code: ErrorCode, message: str) -> bytes:
    return _encoder.encode({"type": "error", "id": request_id, "code": code, "message": message})


def update(
    auction_id: str, seq: int, events: Sequence[Mapping[str, Any]], view: Mapping[str, Any]
) -> bytes:
    return _encoder.encode(
        {"type": "update", "auction_id": auction_id, "seq": seq, "events": events, "view": view}
    )


def update2(
    auction_id: str,
    seq: int,
    server_time: Instant,
    events: Sequence[Mapping[str, Any]] | msgspec.Raw,
    *,
    view: Mapping[str, Any] | None = None,
    patch: Sequence[Mapping[str, Any]] | msgspec.Raw | None = None,
) -> bytes:
    """Protocol 2's ``update``: the subscription's first carries ``view``, every later one
    ``patch``; ``server_time`` is the frame's (a patched view has none).

    Made of pieces, byte for byte what encoding the whole frame as one object gives: its
    beginning (type, auction, seq, time) is encoded once for every receiver of the update (the
    latest is kept), and events or a patch already encoded (`msgspec.Raw`) are put in as they
    are."""
    head = _update_heads.get((auction_id, seq, server_time))
    if head is None:
        _update_heads.clear()
        head = _encoder.encode(
            {
                "type": "update",
                "auction_id": auction_id,
                "seq": seq,
                "server_time": format_instant(server_time),
            }
        )[:-1]  # without its closing brace
        _update_heads[(auction_id, seq, server_time)] = head
    encoded = events if isinstance(events, msgspec.Raw) else _encoder.encode(events)
    if view is not None:
        return b"".join((head, b',"events":', encoded, b',"view":', _encoder.encode(view), b"}"))
    return b"".join((head, b',"events":', encoded, b',"patch":', _encoder.encode(patch), b"}"))


_update_heads: dict[tuple[str, int, Instant], bytes] = {}  # `update2`'s latest (one entry)


def unsubscribed(auction_id: str, seq: int, code: ErrorCode, message: str) -> bytes:
    """The server ended a subscription: the auction is no longer visible to the receiver (an
    addition to PROTOCOL.md v1: a new message type, which clients may ignore)."""
    return _encoder.encode(
        {
            "type": "unsubscribed",
            "auction_id": auction_id,
            "seq": seq,
            "code": code,
            "message": message,
        }
    )


def welcome(principal: Principal, server_time: Instant, protocol: int = PROTOCOL_VERSION) -> bytes:
    return _encoder.encode(
        {
            "type": "welcome",
            "protocol": protocol,
            "user": {"id": principal.user_id, "name": principal.user_name},
            "company": {
                "id": principal.company_id,
                "name": principal.company_name,
                "role": principal.role,
            },
            "server_time": format_instant(server_time),
        }
    )
