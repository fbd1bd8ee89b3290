"""Bearer tokens: refused when bad or revoked, revocation reaching open connections, and never
stored in the clear.

Decision on open connections: a revoked token cannot open a new connection (its hello is closed
4401 at once, the lookup is per hello), and its open connections are closed with 4401 within
``GatewayConfig.token_recheck_s`` (10 s by default), when the gateway checks the tokens of its
open connections again. Tokens are compared only through their sha256 (an indexed lookup of the
hash), never character by character, so timing reveals nothing of a valid token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect

from auctionactors.cli import main
from auctionactors.client import Client, ClientError
from auctionactors.store.base import NewUser
from auctionactors.store.credentials import new_token, token_hash
from auctionactors.store.sqlite import SqliteEventStore
from tests.gateway.conftest import FAST, WAIT_S, Conn, serving

from .live import live_server, run_cli


async def _hello(url: str, token: str) -> tuple[str | None, int | None]:
    """Say hello; the first frame's type (welcome) or the close code."""
    async with connect(url, open_timeout=WAIT_S) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token}))
        conn = Conn(ws)
        try:
            frame = await conn.recv()
        except Exception:
            return None, await conn.closed_with()
        return str(frame["type"]), None


async def _add(path: Path, *names: str) -> list[NewUser]:
    async with await SqliteEventStore.open(path) as store:
        return [await store.add_user(f"{n} Co", "supplier", n) for n in names]


def test_a_revoked_token_is_refused_at_hello_by_a_live_server(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    alice, bob = asyncio.run(_add(db, "Alice", "Bob"))
    with live_server(db) as live:
        assert asyncio.run(_hello(live.url, alice.token)) == ("welcome", None)
        revoked = run_cli("user", "revoke", "--token", alice.token, "--db", str(db))
        assert (revoked.returncode, revoked.stdout) == (0, "revoked\n"), revoked.stderr
        assert asyncio.run(_hello(live.url, alice.token)) == (None, 4401)
        assert asyncio.run(_hello(live.url, bob.token)) == ("welcome", None)
        again = run_cli("user", "revoke", "--token", alice.token, "--db", str(db))
        assert (again.returncode, again.stderr) == (1, "auctionactors: no such active token\n")
        # The client gives up on a refused token: no reconnect loop.
        with pytest.raises(ClientError) as refused:
            asyncio.run(Client(live.url, alice.token).connect())
        assert refused.value.code == "unauthenticated"


async def test_open_connections_of_a_revoked_token_are_closed_4401(tmp_path: Path) -> None:
    config = msgspec.structs.replace(FAST, token_recheck_s=0.05)
    async with serving(tmp_path / "recheck.db", config) as served:
        p = served.people
        first = await Conn.open(served.url, p.s1.token)
        second = await Conn.open(served.url, p.s1.token)
        other = await Conn.open(served.url, p.s2.token)
        await first.ok("list_auctions")
        assert await served.directory.store.revoke_token(p.s1.token)
        assert await first.closed_with() == 4401
        assert await second.closed_with() == 4401
        assert (await other.request("list_auctions"))["type"] == "ok"  # other tokens unaffected
        assert await _hello(served.url, p.s1.token) == (None, 4401)
        await other.close()


async def test_a_bad_token_is_closed_4401_and_told_nothing(tmp_path: Path) -> None:
    async with serving(tmp_path / "bad.db") as served:
        token = served.people.admin.token
        for bad in ("", "x", token[:-1], token + "x", token.upper(), " " + token, "\u0000" * 43):
            assert await _hello(served.url, bad) == (None, 4401), bad


def _db_bytes(db: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(db.parent.glob(db.name + "*")))


def test_tokens_are_stored_only_as_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "hashed.db"
    tokens = []
    for role, name in (("admin", "Ada"), ("buyer", "Bea"), ("supplier", "Sam")):
        assert main(["user", "add", "--company", f"{name} Co", "--role", role, "--name", name,
                     "--db", str(db)]) == 0  # fmt: skip
        tokens.append(json.loads(capsys.readouterr().out)["token"])
    tokens += [u.token for u in asyncio.run(_add(db, "Direct"))]
    assert main(["user", "revoke", "--token", tokens[0], "--db", str(db)]) == 0
    with live_server(db) as live:  # a server that authenticated them stores nothing of them
        for token in tokens[1:]:
            assert asyncio.run(_hello(live.url, token)) == ("welcome", None)
    stored = _db_bytes(db)
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) == 32  # 256 random bits
        assert token.encode() not in stored
        assert raw not in stored and raw.hex().encode() not in stored
        assert hashlib.sha256(token.encode()).digest() in stored  # what is kept instead


def test_tokens_never_start_with_a_dash() -> None:
    """One in 64 did, and ``user revoke --token -abc...`` then failed as an unknown option."""
    assert not any(new_token().startswith("-") for _ in range(2000))
    assert len({new_token() for _ in range(100)}) == 100


def test_a_token_with_a_leading_dash_is_revoked_with_the_equals_form(tmp_path: Path) -> None:
    """Tokens made before the fix may start with a dash: ``--token=-...`` still revokes them."""
    db = tmp_path / "dash.db"
    (user,) = asyncio.run(_add(db, "Dash"))
    dashed = "-" + user.token[1:]

    async def rekey() -> None:  # give the user a token that starts with a dash
        async with await SqliteEventStore.open(db) as store:
            await store.revoke_token(user.token)
        conn = sqlite3.connect(db)
        with conn:
            conn.execute(
                "UPDATE tokens SET hash = ?, revoked = 0 WHERE user_id = ?",
                (token_hash(dashed), user.user_id),
            )
        conn.close()

    asyncio.run(rekey())
    assert main(["user", "revoke", f"--token={dashed}", "--db", str(db)]) == 0
