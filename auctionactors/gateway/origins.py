"""Which web origins may open a WebSocket on this server (cross-site WebSocket hijacking).

A browser sends the page's ``Origin`` with the handshake. It is compared with the server's own
public origins, derived from what it was configured to listen on, and the ones it was told
(``--allowed-origin``, ``--public-origin``); never with the request's ``Host`` header, which
an attacker's page controls through DNS rebinding (a name of theirs resolving to this server:
the browser then sends that name as both ``Host`` and ``Origin``).

Own origins: ``http://HOST:PORT`` (``https`` with TLS); for a loopback address also
``localhost``, ``127.0.0.1`` and ``[::1]`` with that port; for a wildcard address (``0.0.0.0``,
``::``) only the loopback names, since the names it is reached by are unknown: give them with
``--public-origin``. Clients that send no ``Origin`` (programs, not browsers) are let in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARDS = ("", "0.0.0.0", "::")


def normalize(origin: str) -> str:
    return origin.rstrip("/").lower()


def own_origins(host: str, port: int, *, tls: bool, public: Iterable[str] = ()) -> frozenset[str]:
    """The origins of pages this server serves itself, listening on ``host``:``port``."""
    scheme = "https" if tls else "http"
    names: list[str] = []
    if host in WILDCARDS or _is_loopback(host):
        names += LOOPBACK_NAMES
    if host not in WILDCARDS:
        names.append(f"[{host}]" if ":" in host else host)
    default = 443 if tls else 80
    origins = {f"{scheme}://{name}:{port}" for name in names}
    if port == default:  # a browser leaves out the default port
        origins |= {f"{scheme}://{name}" for name in names}
    return frozenset(normalize(o) for o in (*origins, *public))


def allowed(origins: list[str], trusted: frozenset[str]) -> bool:
    """No ``Origin`` header (not a browser), or exactly one and it is trusted."""
    if not origins:
        return True
    if len(origins) > 1:
        return False
    origin = normalize(origins[0])
    parts = urlsplit(origin)
    return origin in trusted and parts.scheme in ("http", "https") and not parts.path


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
