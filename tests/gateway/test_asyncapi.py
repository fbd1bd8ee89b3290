"""The published protocol: ``docs/asyncapi.json`` is what ``auctionactors asyncapi`` prints,
the AsyncAPI project's own parser accepts it, and every frame a real server sends (protocol 1
and 2) is one of the documented messages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.cli import main
from auctionactors.gateway import asyncapi
from auctionactors.gateway import messages as m
from auctionactors.gateway import outgoing as o

from .conftest import Conn, Served, bid, open_auction, spot

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "asyncapi.json"
CHECK = REPO / "scripts" / "asyncapi" / "check.mjs"


def test_the_committed_document_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asyncapi"]) == 0
    printed = capsys.readouterr().out
    assert printed == asyncapi.text()
    assert DOC.read_text(encoding="utf-8") == printed, (
        "docs/asyncapi.json is out of date: .venv/bin/auctionactors asyncapi > docs/asyncapi.json"
    )


def test_the_asyncapi_parser_accepts_it(tmp_path: Path) -> None:
    node = shutil.which("node")
    installed = (CHECK.parent / "node_modules" / "@asyncapi" / "parser").is_dir()
    if node is None or not installed:
        if os.environ.get("CI"):
            pytest.fail("node or @asyncapi/parser missing: scripts/setup-node.sh installs them")
        pytest.skip("run scripts/setup-node.sh (node and @asyncapi/parser)")
    done = subprocess.run(
        [node, str(CHECK), str(DOC)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid AsyncAPI 3.0.0" in done.stdout
    # The check can fail: a reference to a message that is not there.
    broken = msgspec.json.decode(DOC.read_bytes())
    del broken["components"]["messages"]["welcome"]
    bad = tmp_path / "broken.json"
    bad.write_bytes(msgspec.json.encode(broken))
    done = subprocess.run(
        [node, str(CHECK), str(bad)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1 and "welcome" in done.stdout, done.stdout + done.stderr


def test_it_documents_every_request_and_error_code() -> None:
    doc = asyncapi.document()
    operations = doc["operations"]
    assert m.REQUEST_TYPES | {"hello"} <= operations.keys()
    for name in ("push_update", "push_update2", "push_history", "push_unsubscribed"):
        assert operations[name]["action"] == "send"
    code = doc["components"]["schemas"]["Error"]["properties"]["code"]
    assert set(code["enum"]) == set(code["x-codes"]) == set(asyncapi.ERROR_CODES)
    assert "4401" in doc["channels"]["session"]["x-close-codes"]
    assert doc["components"]["schemas"]["Hello"]["properties"]["protocol"]["enum"] == [1, 2]


class Recording(Conn):
    """A connection that keeps every frame it receives, and the type of each request it sent."""

    seen: list[dict[str, Any]]
    sent: dict[Any, str]

    async def send(self, doc: dict[str, Any]) -> None:
        if not hasattr(self, "sent"):
            self.sent, self.seen = {}, []
        if "id" in doc:
            self.sent[doc["id"]] = doc["type"]
        await super().send(doc)

    async def recv(self, wait_s: float = 5.0) -> dict[str, Any]:
        frame = await super().recv(wait_s)
        self.seen.append(frame)
        return frame


async def recording(served: Served, token: str, protocol: int) -> Recording:
    conn = await Recording.open(served.url)
    await conn.send({"type": "hello", "token": token, "protocol": protocol})
    conn.welcome = await conn.recv()
    return conn


def check_frames(conn: Recording, protocol: int) -> set[str]:
    """Each frame decoded as the document says it is; the message names seen."""
    names = set()
    for frame in conn.seen:
        kind = frame["type"]
        if kind == "ok":
            cls: type[msgspec.Struct] = o.OK_OF.get(conn.sent[frame["id"]], o.SeqOk)
            names.add(f"ok {conn.sent[frame['id']]}")
        else:
            cls = {
                "welcome": o.Welcome,
                "error": o.Error,
                "update": o.Update if protocol == 1 else o.Update2,
                "history": o.History,
                "unsubscribed": o.Unsubscribed,
            }[kind]
            names.add(kind)
        msgspec.convert(frame, cls)  # raises if the frame is not what the document says
    return names


async def test_every_frame_a_real_server_sends_is_documented(served: Served) -> None:
    p = served.people
    seen: set[str] = set()
    for protocol in (1, 2):
        admin = await recording(served, p.admin.token, protocol)
        buyer = await recording(served, p.buyer.token, protocol)
        s1 = await recording(served, p.s1.token, protocol)
        observer = await recording(served, p.observer.token, protocol)
        aid = await open_auction(admin, p)
        await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
        await observer.ok("subscribe", auction_id=aid)
        await s1.ok("subscribe", auction_id=aid)
        await buyer.ok("subscribe_all")
        await s1.ok("place_bids", auction_id=aid, bids=[bid(amount="3.00", min_amount="2.00")])
        await s1.ok("post_comment", auction_id=aid, text="Ready")
        await s1.ok("rsvp", auction_id=aid, response="yes")
        await s1.ok("submit_barge", auction_id=aid, barge={"name": "Barge 1", "imo": "9400001"})
        await s1.ok("get_view", auction_id=aid)
        await s1.ok("get_view", auction_id=aid, at_seq=2)
        await s1.ok("get_events", auction_id=aid)
        await s1.error("revoke_bid", auction_id=aid, product_id="p9")
        await admin.ok("list_auctions")
        await buyer.ok("list_companies")
        await admin.ok("operator_status")
        await admin.error("operator_revive", auction_id=aid)
        await admin.ok("uninvite_observer", auction_id=aid, company_id=p.observer.company_id)
        while (await observer.recv())["type"] != "unsubscribed":
            pass
        draft = await buyer.ok("create_auction", auction=spot(p, start=None))
        await buyer.ok("update_auction", auction_id=draft["auction_id"], changes={"port": "Ghent"})
        await buyer.ok("cancel_auction", auction_id=draft["auction_id"])
        await s1.ok("unsubscribe", auction_id=aid)
        await s1.error("no_such_request")
        for conn in (admin, buyer, s1, observer):
            await conn.close()
            seen |= check_frames(conn, protocol)
    for name in ("welcome", "error", "update", "unsubscribed", "ok place_bids", "ok get_events"):
        assert name in seen, name
