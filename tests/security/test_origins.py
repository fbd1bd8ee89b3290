"""Cross-site WebSocket hijacking: a browser sends the page's ``Origin`` with the handshake; the
server lets in its own origins (derived from the address it listens on, never from the request's
``Host``: see `auctionactors.gateway.origins`), the origins it was told to allow
(``serve --allowed-origin``), and clients that send no ``Origin`` at all (programs); anything
else is refused with HTTP 403 before a WebSocket exists."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from auctionactors.cli import main
from auctionactors.store.sqlite import SqliteEventStore
from tests.gateway.conftest import FAST, WAIT_S, serving

from .live import live_server

ALLOWED = "https://bunkers.example"


async def _handshake(url: str, token: str, **kwargs: Any) -> int | str:
    """The HTTP status of a refused handshake, or the first frame's type after the hello."""
    try:
        async with connect(url, open_timeout=WAIT_S, **kwargs) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            return str(json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))["type"])
    except InvalidStatus as exc:
        return exc.response.status_code


def _cases(port: int) -> list[tuple[dict[str, Any], int | str]]:
    own = f"http://127.0.0.1:{port}"
    return [
        ({}, "welcome"),  # no Origin: not a browser
        ({"origin": own}, "welcome"),  # the page this server serves
        ({"origin": f"http://localhost:{port}"}, "welcome"),  # a loopback bind: its names
        ({"origin": f"http://[::1]:{port}"}, "welcome"),
        ({"origin": f"https://127.0.0.1:{port}"}, 403),  # this server does not speak TLS
        ({"origin": ALLOWED}, "welcome"),
        ({"origin": "HTTPS://Bunkers.Example"}, "welcome"),  # origins are case-insensitive
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "https://bunkers.example.evil.example"}, 403),
        ({"origin": "http://bunkers.example"}, 403),  # another scheme is another origin
        ({"origin": f"http://127.0.0.1:{port + 1}"}, 403),  # another port too
        ({"origin": f"http://rebind.example:{port}"}, 403),  # another name for the host too
        ({"origin": "null"}, 403),  # sandboxed frames, file:// pages
        ({"origin": f"{own}/path"}, 403),
        ({"additional_headers": [("Origin", own), ("Origin", "https://evil.example")]}, 403),
    ]


async def test_origins_in_process(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, allowed_origins=(ALLOWED,))
    async with serving(tmp_path / "origins.db", config) as served:
        token = served.people.buyer.token
        cases = _cases(served.gateway.port)
        got = [await _handshake(served.url, token, **kwargs) for kwargs, _ in cases]
        assert got == [expected for _, expected in cases]


async def test_without_allowed_origins_only_our_own_is_let_in(tmp_path: Path) -> None:
    async with serving(tmp_path / "own.db") as served:
        token = served.people.buyer.token
        own = f"http://127.0.0.1:{served.gateway.port}"
        assert await _handshake(served.url, token, origin=own) == "welcome"
        assert await _handshake(served.url, token, origin=ALLOWED) == 403


async def _user(path: Path) -> str:
    async with await SqliteEventStore.open(path) as store:
        return (await store.add_user("Aegean Shipping", "buyer", "Bea")).token


def test_serve_allowed_origin_option(tmp_path: Path) -> None:
    db = tmp_path / "serve.db"
    token = asyncio.run(_user(db))
    other = "http://ops.example:8080"
    with live_server(db, "--allowed-origin", ALLOWED, "--allowed-origin", other) as live:
        for origin, expected in (
            (None, "welcome"),
            (ALLOWED, "welcome"),
            (other, "welcome"),
            (f"http://127.0.0.1:{live.port}", "welcome"),
            ("https://evil.example", 403),
        ):
            kwargs = {} if origin is None else {"origin": origin}
            assert asyncio.run(_handshake(live.url, token, **kwargs)) == expected, origin


@pytest.mark.parametrize("bad", ["evil.example", "ftp://x.example", "https://x.example/page", ""])
def test_serve_refuses_what_is_not_an_origin(
    bad: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["serve", "--db", str(tmp_path / "x.db"), "--allowed-origin", bad]) == 2
    assert "not an origin" in capsys.readouterr().err
