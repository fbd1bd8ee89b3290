"""The web page's files (``gateway/static/``), loaded once and served by exact name.

``GET /`` is ``index.html``; everything else is ``/static/<path>``. Every file is read into
memory at startup, so a request is a dictionary lookup: a path that is not one of the packaged
files (``..``, an encoded slash, a dotfile, a folder) is simply not found, and nothing on disk is
ever opened on a client's behalf. The page speaks only the public protocol (PROTOCOL.md) over
``/ws``; these headers keep it to that: scripts, styles and connections from this origin only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

# 'self' covers ws:// and wss:// of the same host and port (CSP level 3).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# On every HTTP response of the port (the page, health, metrics, errors): the page never needs
# another window's handle, nor a device; HSTS only when the port speaks TLS.
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), hid=(), "
        "midi=(), display-capture=()"
    ),
}
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PREFIX = "/static/"


@dataclass(frozen=True)
class Asset:
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Assets:
    """The packaged files by URL path."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self._by_path: dict[str, Asset] = {}
        for name, body in files.items():
            content_type = _content_type(name)
            if content_type is None:
                continue
            headers = dict(_COMMON_HEADERS)
            if name.endswith(".html"):
                headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                headers["X-Frame-Options"] = "DENY"
            self._by_path[PREFIX + name] = Asset(content_type, body, headers)
        index = self._by_path.get(PREFIX + "index.html")
        if index is not None:
            self._by_path["/"] = index
            self._by_path["/index.html"] = index

    @classmethod
    def load(cls, package: str = "auctionactors.gateway", folder: str = "static") -> Assets:
        root = resources.files(package).joinpath(folder)
        files: dict[str, bytes] = {}
        if root.is_dir():
            _collect(root, "", files)
        return cls(files)

    def get(self, path: str) -> Asset | None:
        """The file for a request path (without its query), or None."""
        if path.startswith(PREFIX):
            segments = path[len(PREFIX) :].split("/")
            if not all(_SEGMENT.match(s) and ".." not in s for s in segments):
                return None
        return self._by_path.get(path)

    def paths(self) -> list[str]:
        return sorted(self._by_path)


def _content_type(name: str) -> str | None:
    dot = name.rfind(".")
    return None if dot < 0 else CONTENT_TYPES.get(name[dot:].lower())


def _collect(folder: Traversable, prefix: str, files: dict[str, bytes]) -> None:
    for entry in folder.iterdir():
        if not _SEGMENT.match(entry.name):
            continue  # dotfiles, editor leftovers
        if entry.is_dir():
            _collect(entry, f"{prefix}{entry.name}/", files)
        elif entry.is_file():
            files[prefix + entry.name] = entry.read_bytes()
