"""The gateway's settings (`GatewayConfig`) and the TLS context they name: plain data and the
standard library only, so the CLI and the tests can build a configuration without the server
module (the one that imports websockets, see `server`).
"""

from __future__ import annotations

import os
import ssl

import msgspec

from auctionactors.errors import UsageError


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
    # Connections from one IP address that have not completed their hello (more: HTTP 429),
    # and the frames refused before the hello after which a connection is closed (1008).
    max_unauthenticated_per_address: int = 32
    max_refused_before_hello: int = 8
    creates_per_hour: int | None = 360  # auctions one buyer company may create per hour
    max_open_auctions: int | None = 1000  # ... and may have not final (drafts included)
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0
    close_timeout_s: float = 5.0
    write_limit: int = 32 * 1024  # bytes buffered by websockets before a send waits
    # SO_SNDBUF per connection: None leaves the kernel's autotuning, which may buffer megabytes
    # for a reader that stopped reading before its outbox fills up.
    socket_send_buffer: int | None = None
    # Origins (``https://example.com``) whose pages may open WebSockets besides our own, and
    # our own public origins when they cannot be derived from ``host`` (see `origins`).
    allowed_origins: tuple[str, ...] = ()
    public_origins: tuple[str, ...] = ()
    metrics_token: str | None = None  # set: /metrics wants ``Authorization: Bearer <token>``
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
