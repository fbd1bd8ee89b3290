"""The command line of the daemon (``serve``, ``status``, ``revive``) and the option types
``serve`` and ``demo`` share (`daemon` runs them)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from auctionactors.cli import cluster, logs, notify
from auctionactors.cli.daemon import DEFAULT_URL, LOOPS, TOKEN_ENV
from auctionactors.runtime.cells import PASSIVATE_AFTER_S, SNAPSHOT_EVERY


def add_parsers(sub: Any, add_db: Any, add_json: Any) -> None:
    """The subcommands of this module, for `auctionactors.cli.build_parser`."""
    serve_p = sub.add_parser("serve", help="run the daemon: supervisor and WebSocket gateway")
    add_db(serve_p)
    add_server_options(serve_p)
    cluster.add_options(serve_p)
    serve_p.add_argument(
        "--busy-timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="how long a write waits for another process's lock on the database before the "
        "command is answered `unavailable` (default 5)",
    )
    serve_p.add_argument(
        "--passivate-after",
        type=_non_negative_float,
        default=PASSIVATE_AFTER_S,
        metavar="SECONDS",
        help="unload an auction's actor after this long with nothing to do; it is reloaded "
        "from its snapshot when a message or its next deadline needs it (default "
        f"{PASSIVATE_AFTER_S:g}; 0: never, finished auctions are unloaded at once anyway)",
    )
    serve_p.add_argument(
        "--snapshot-every",
        type=_whole_number,
        default=SNAPSHOT_EVERY,
        metavar="N",
        help="store a snapshot of an auction's state every N events (and when it finishes), so "
        f"that loading it replays only what follows (default {SNAPSHOT_EVERY}; 0: none)",
    )
    limits = serve_p.add_argument_group(
        "limits",
        "limits of the gateway per connection, address and company (raise them for load tests)",
    )
    limits.add_argument(
        "--rate",
        type=_positive_float,
        default=None,
        metavar="N",
        help="requests per second per connection, in bursts of max(100, N) (default 50)",
    )
    limits.add_argument(
        "--outbox",
        type=positive_int,
        default=None,
        metavar="N",
        help="frames queued for one connection before it is closed 1013 (default 512)",
    )
    limits.add_argument(
        "--max-connections-per-token",
        type=positive_int,
        default=None,
        metavar="N",
        help="connections one token may hold at once (default 16)",
    )
    limits.add_argument(
        "--max-unauthenticated-per-address",
        type=positive_int,
        default=None,
        metavar="N",
        help="connections from one IP address that have not yet sent a good hello; more are "
        "refused at the handshake with HTTP 429 (default 32; behind a proxy every client has "
        "the proxy's address: raise it). A connection is closed 1008 after 8 frames refused "
        "before its hello",
    )
    limits.add_argument(
        "--create-rate",
        type=_whole_number,
        default=None,
        metavar="N",
        help="auctions one buyer company may create in any hour, whoever creates them for it "
        "(an admin acting as itself is exempt); more are refused `rate_limited` with the time "
        "to retry (default 360; 0: no quota)",
    )
    limits.add_argument(
        "--max-open-auctions",
        type=_whole_number,
        default=None,
        metavar="N",
        help="auctions of one buyer company that may be unfinished (drafts included) at once; "
        "creating more is refused `rate_limited` (default 1000; 0: no limit)",
    )
    serve_p.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        type=_origin,
        metavar="ORIGIN",
        help="a site whose pages may connect, e.g. https://bunkers.example (repeatable); "
        "by default only pages served by this server (and clients sending no Origin)",
    )
    serve_p.add_argument(
        "--public-origin",
        action="append",
        default=[],
        type=_origin,
        metavar="ORIGIN",
        help="an origin this server's own page is reached at, e.g. https://auctions.example "
        "(repeatable). Own origins are derived from --host and --port (a loopback address "
        "also as localhost, 127.0.0.1 and [::1]; https with TLS), never from the request's "
        "Host header; give them here for a wildcard --host (0.0.0.0, ::) or behind a proxy",
    )
    serve_p.add_argument(
        "--metrics-token",
        default=None,
        metavar="TOKEN",
        help="protect /metrics: it then wants 'Authorization: Bearer TOKEN' (else 401); "
        "by default /metrics is open",
    )
    serve_p.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: serve wss/https")
    serve_p.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    notify.add_options(serve_p)
    for name, help_ in (
        ("status", "ask a running daemon how its actors are"),
        ("revive", "ask a running daemon to restart a quarantined auction"),
    ):
        p = sub.add_parser(name, help=help_)
        if name == "revive":
            p.add_argument("auction_id")
        p.add_argument("--url", default=DEFAULT_URL, help=f"the daemon (default {DEFAULT_URL})")
        p.add_argument("--token", default=None, help=f"an admin's token (default ${TOKEN_ENV})")
        if name == "status":
            add_json(p)
            p.add_argument(
                "--db",
                default=None,
                help="a cluster's PostgreSQL database (postgresql://...): list its nodes, their "
                "partitions and lag, read from the database instead of asking a daemon",
            )


def _origin(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"not an origin (scheme://host[:port]): {text!r}")
    return text


def add_server_options(p: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--loop`` and ``--log-format``: what ``serve`` and ``demo``
    both take."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--port", type=_port, default=8765, help="port to listen on (0: any free one, printed)"
    )
    p.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop: uvloop if installed (auto, the default), or insist on one",
    )
    p.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default="plain",
        help="the log on stderr: plain lines (default) or json, one object a line",
    )


positive_int = notify.int_at_least(1)
_whole_number = notify.int_at_least(0)


def _float_above(low: float, *, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value >= low if inclusive else value > low) or value == float("inf"):
            raise argparse.ArgumentTypeError(
                f"must be {'at least' if inclusive else 'more than'} {low:g}: {value}"
            )
        return value

    return parse


_positive_float = _float_above(0, inclusive=False)
_non_negative_float = _float_above(0, inclusive=True)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value
