"""``replay AUCTION --as COMPANY``: the view that company gets of the rebuilt auction, the same
object ``get_view`` returns it (``server_time`` aside; `scripts/chaos.py` compares the two over
the wire after every restart). The seeded store has no accounts, so the company's role comes
from the auction's own facts: its buyer, its suppliers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .seed import Seeded
from .test_cli import db, one_line, poison, run


def view_as(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, auction_id: str, company: str, *more: str
) -> dict[str, Any]:
    code, out, err = run(
        capsys, "replay", auction_id, "--as", company, "--json", "--db", db(seeded), *more
    )
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_the_buyer_sees_every_bid_and_the_winner(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    doc = view_as(capsys, seeded, seeded.decided, "c-b")
    assert (doc["auction_id"], doc["status"], doc["seq"]) == (seeded.decided, "closed", 9)
    assert doc["decision_closes_at"] == "2026-11-27T10:26:00.000000Z"
    assert "server_time" in doc and "status_line" not in doc
    bids = doc["products"][0]["bids"]
    assert [(b["bid_id"], b["supplier"]["id"]) for b in bids] == [
        (seeded.s2_bid, "c-s2"),
        (seeded.s1_second, "c-s1"),
    ]
    assert doc["solutions"]["winning"]["bid_ids"] == [seeded.s2_bid]


def test_a_supplier_sees_its_own_and_anonymous_competitors(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    doc = view_as(capsys, seeded, seeded.decided, "c-s1")
    assert doc["status_line"].startswith("Regretfully, you were unsuccessful")
    bids = {b["bid_id"]: b for b in doc["products"][0]["bids"]}
    assert bids[seeded.s2_bid]["supplier"] is None  # a competitor's bid: amount only
    assert bids[seeded.s1_second]["supplier"]["id"] == "c-s1"
    history = [h["bid_id"] for h in doc["products"][0]["history"]]
    assert seeded.s2_bid not in history and seeded.s1_first in history


def test_until_seq_gives_the_view_back_then(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    doc = view_as(capsys, seeded, seeded.decided, "c-s2", "--until-seq", "4")
    assert (doc["status"], doc["seq"]) == ("open", 4)
    assert doc["products"][0]["is_leading"] is True


def test_text_output_is_the_same_view_indented(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    code, out, _ = run(capsys, "replay", seeded.open, "--as", "c-b", "--db", db(seeded))
    assert code == 0 and out.startswith("{\n  ")
    doc = json.loads(out)
    doc.pop("server_time")
    compact = view_as(capsys, seeded, seeded.open, "c-b")
    compact.pop("server_time")
    assert doc == compact


def test_an_unknown_company(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "replay", seeded.open, "--as", "c-nope", "--db", db(seeded))
    assert (code, out) == (2, "")
    assert one_line(err) == (
        "auctionactors: error: no company c-nope in the database or the auction"
    )


def test_a_poisoned_stream_names_the_seq_with_as_too(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    seq = poison(seeded)
    code, out, err = run(capsys, "replay", seeded.open, "--as", "c-b", "--db", db(seeded))
    assert (code, out) == (1, "")
    assert one_line(err).startswith(f"seq {seq}: ")
