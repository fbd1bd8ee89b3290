"""The command line (PROTOCOL.md, "Command line") through ``main(argv)``, in-process, on real
SQLite files written by the real runtime (see `seed`).

Exit status: 0 success, 1 the check or command failed, 2 usage error with one line on stderr.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.cli import main
from auctionactors.domain.commands import RevokeBid
from auctionactors.domain.state import AuctionState
from auctionactors.store import migrations
from auctionactors.store.base import NewEvent
from auctionactors.store.codec import SNAPSHOT_VERSION
from auctionactors.store.sqlite import SqliteEventStore

from .process import LineReader, start_cli
from .seed import S1, S2, Seeded, bid, place, seed

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """stderr holds exactly one line: the clear message a usage error owes the operator."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err.rstrip("\n")


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def db(seeded: Seeded) -> str:
    return str(seeded.path)


# --- user add -----------------------------------------------------------------------------------


def add_user(
    capsys: pytest.CaptureFixture[str], path: Path, company: str, role: str, name: str
) -> dict[str, str]:
    code, out, err = run(
        capsys,
        "user",
        "add",
        "--company",
        company,
        "--role",
        role,
        "--name",
        name,
        "--db",
        str(path),
    )
    assert (code, err) == (0, "")
    assert out.endswith("\n") and out.count("\n") == 1
    user: dict[str, str] = json.loads(out)
    return user


def test_user_add_prints_one_json_line_and_creates_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "accounts.db"
    user = add_user(capsys, path, "Baltic Bunkers", "supplier", "Ann")
    assert set(user) == {"company_id", "user_id", "token"}
    assert all(isinstance(v, str) and v for v in user.values())
    assert path.exists()
    # A database with accounts but no auction lists none.
    code, out, _ = run(capsys, "auctions", "--json", "--db", str(path))
    assert (code, json.loads(out)) == (0, [])


def test_a_second_user_of_the_same_company_reuses_its_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "accounts.db"
    ann = add_user(capsys, path, "Baltic Bunkers", "supplier", "Ann")
    bob = add_user(capsys, path, "Baltic Bunkers", "supplier", "Bob")
    other = add_user(capsys, path, "Buyer Co", "buyer", "Cy")
    assert bob["company_id"] == ann["company_id"]
    assert bob["user_id"] != ann["user_id"]
    assert bob["token"] != ann["token"]
    assert other["company_id"] != ann["company_id"]


def test_tokens_are_stored_hashed_never_in_plain_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "accounts.db"
    users = [add_user(capsys, path, "Buyer Co", "buyer", f"User {i}") for i in range(3)]
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(path.name))
    for user in users:
        assert user["token"].encode() not in on_disk

    async def authenticate() -> list[str | None]:
        async with await SqliteEventStore.open(path) as store:
            found = [await store.authenticate(u["token"]) for u in users]
            return [p.user_id if p is not None else None for p in found]

    # What is stored still recognises every token (it is a hash of it, not nothing).
    assert asyncio.run(authenticate()) == [u["user_id"] for u in users]


def test_a_company_keeps_its_role(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "accounts.db"
    add_user(capsys, path, "Acme", "buyer", "Ann")
    code, out, err = run(
        capsys, "user", "add", "--company", "Acme", "--role", "supplier", "--name", "Bob",
        "--db", str(path),
    )  # fmt: skip
    assert (code, out) == (2, "")
    message = one_line(err)
    assert message.startswith("auctionactors: error: ")
    assert "Acme" in message and "buyer" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--company", "Acme", "--role", "king", "--name", "Ann"], "invalid choice: 'king'"),
        (["--company", "  ", "--role", "buyer", "--name", "Ann"], "--company must not be empty"),
        (["--company", "Acme", "--role", "buyer", "--name", ""], "--name must not be empty"),
        (
            ["--company", "\u200b", "--role", "buyer", "--name", "Ann"],
            "--company must not be empty",
        ),
        (["--company", "Acme", "--role", "buyer", "--name", "n" * 2001], "at most 2000 characters"),
        (["--company", "Acme", "--name", "Ann"], "required: --role"),
    ],
)
def test_bad_user_input_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], expected: str
) -> None:
    path = tmp_path / "accounts.db"
    code, out, err = run(capsys, "user", "add", *args, "--db", str(path))
    assert (code, out) == (2, "")
    assert expected in one_line(err)


# --- auctions -----------------------------------------------------------------------------------


def test_auctions_table(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "auctions", "--db", db(seeded))
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["AUCTION", "STATUS", "SEQ", "START", "CLOSES", "DECISION"]
    by_id = {row.split()[0]: row.split() for row in rows}
    assert by_id[seeded.decided] == [
        seeded.decided,
        "closed",
        "9",
        "2026-11-27T10:01:00.000000Z",
        "2026-11-27T10:11:00.000000Z",
        "2026-11-27T10:26:00.000000Z",
    ]
    assert by_id[seeded.open] == [
        seeded.open,
        "open",
        "3",
        "2026-11-27T10:01:00.000000Z",
        "2026-11-27T12:01:00.000000Z",
        "-",
    ]
    assert by_id[seeded.pending] == [
        seeded.pending,
        "pending",
        "1",
        "2026-11-28T10:00:00.000000Z",
        "-",
        "-",
    ]


def test_auctions_json(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "auctions", "--json", "--db", db(seeded))
    assert (code, err) == (0, "")
    rows = {r["auction_id"]: r for r in json.loads(out)}
    assert set(rows) == {seeded.decided, seeded.open, seeded.pending}
    decided = rows[seeded.decided]
    assert (decided["status"], decided["seq"]) == ("closed", 9)
    assert decided["scheduled_start"] == "2026-11-27T10:01:00.000000Z"
    assert decided["closes_at"] == "2026-11-27T10:11:00.000000Z"
    assert decided["decision_closes_at"] == "2026-11-27T10:26:00.000000Z"
    assert (rows[seeded.open]["status"], rows[seeded.open]["seq"]) == ("open", 3)
    pending = rows[seeded.pending]
    assert (pending["status"], pending["seq"]) == ("pending", 1)
    # A deadline not set yet is null, never a placeholder string.
    assert (pending["closes_at"], pending["decision_closes_at"]) == (None, None)
    for row in rows.values():
        for field in ("scheduled_start", "closes_at", "decision_closes_at"):
            assert row[field] is None or RFC3339_Z.match(row[field]), row


# --- events -------------------------------------------------------------------------------------

DECIDED_TYPES = [
    "auction_created",
    "auction_started",
    "bid_placed",
    "bid_placed",
    "bids_revoked",
    "bid_placed",
    "auction_ended",
    "winning_solution_selected",
    "auction_closed",
]


def test_events_text(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "events", seeded.decided, "--db", db(seeded))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(1, 10))
    assert [line.split()[2] for line in lines] == DECIDED_TYPES
    assert lines[1].split()[3] == "clock"  # auction_started: the clock acted
    assert lines[3].split()[3] == "u-s2"
    assert '"amount":"2.25"' in lines[3]


def test_events_json(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "events", seeded.decided, "--json", "--db", db(seeded))
    assert (code, err) == (0, "")
    entries = json_lines(out)
    assert all(set(e) == {"seq", "type", "at", "by", "data"} for e in entries)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))  # gapless
    assert [e["type"] for e in entries] == DECIDED_TYPES
    assert all(RFC3339_Z.match(e["at"]) for e in entries)
    assert entries[1]["by"] is None
    assert entries[1]["data"] == {"closes_at": "2026-11-27T10:11:00.000000Z"}
    s2_bid = entries[3]
    assert s2_bid["by"] == {"user_id": "u-s2", "company_id": "c-s2", "admin_id": None}
    assert s2_bid["data"]["bid_id"] == seeded.s2_bid
    assert s2_bid["data"]["amount"] == "2.25"
    assert s2_bid["data"]["original_time_entered"] == "2026-11-27T10:01:00.000000Z"
    assert entries[4]["data"]["bid_ids"] == [seeded.s1_first]
    selected = entries[7]["data"]
    assert selected["bid_ids"] == [seeded.s2_bid]
    assert selected["total_price"] == "3375.00"  # 2.25 x 1500 MT


def _integers_under(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _integers_under(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _integers_under(v, f"{path}[{i}]")]
    if isinstance(value, int) and not isinstance(value, bool):
        return [path]
    return []


def test_events_json_has_no_integer_instants_anywhere(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    _, out, _ = run(capsys, "events", seeded.decided, "--json", "--db", db(seeded))
    created = json_lines(out)[0]
    # The only integers in auction_created are quantities and durations.
    allowed = re.compile(r"(quantity_mt|_s)$")
    assert [p for p in _integers_under(created["data"]) if not allowed.search(p)] == []


def test_events_of_an_unknown_auction(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "events", "a-nope", "--db", db(seeded))
    assert (code, out) == (2, "")
    assert "no auction a-nope" in one_line(err)


def test_events_follow_prints_new_events_as_they_are_stored(seeded: Seeded) -> None:
    proc = start_cli("events", seeded.open, "--follow", "--json", "--db", db(seeded))
    try:
        assert proc.stdout is not None
        lines = LineReader(proc.stdout)
        existing = [json.loads(lines.next()) for _ in range(3)]
        assert [e["seq"] for e in existing] == [1, 2, 3]
        assert existing[2]["data"]["amount"] == "3.00"

        reply = place(seeded.path, seeded.end, seeded.open, bid(S2, 275))
        new = json.loads(lines.next())
        assert (new["seq"], new["type"]) == (4, "bid_placed")
        assert new["data"]["bid_id"] == reply.fields["bid_ids"][0]
        assert new["data"]["amount"] == "2.75"

        place(seeded.path, seeded.end, seeded.open, RevokeBid(by=S1, product_id="p1"))
        new = json.loads(lines.next())
        assert (new["seq"], new["type"]) == (5, "bids_revoked")
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# --- replay -------------------------------------------------------------------------------------


def test_replay_text(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "replay", seeded.decided, "--db", db(seeded))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["auction", seeded.decided, "status", "closed", "seq", "9"]
    ranked = [line.split() for line in lines if re.match(r"^\s+\d+\.", line)]
    assert ranked == [
        ["1.", "2.25", "c-s2", seeded.s2_bid],
        ["2.", "2.75", "c-s1", seeded.s1_second],
    ]
    assert lines[-1].split() == ["winning:", seeded.s2_bid, "total", "3375.00"]


def test_replay_json(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "replay", seeded.decided, "--json", "--db", db(seeded))
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert (doc["auction_id"], doc["status"], doc["seq"]) == (seeded.decided, "closed", 9)
    assert doc["ranking"] == {"p1": [seeded.s2_bid, seeded.s1_second]}
    assert doc["bids"][seeded.s2_bid]["amount"] == "2.25"
    assert doc["bids"][seeded.s1_first]["active"] is False  # revoked, kept in the history
    assert doc["winning_bid_ids"] == [seeded.s2_bid]
    assert doc["winning_total"] == "3375.00"
    assert doc["decision_closes_at"] == "2026-11-27T10:26:00.000000Z"


def test_replay_until_seq_shows_the_state_back_then(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    def at(seq: int) -> dict[str, Any]:
        code, out, err = run(
            capsys, "replay", seeded.decided, "--until-seq", str(seq), "--json", "--db", db(seeded)
        )
        assert (code, err) == (0, "")
        doc: dict[str, Any] = json.loads(out)
        return doc

    before_bids = at(2)
    assert (before_bids["status"], before_bids["seq"], before_bids["bids"]) == ("open", 2, {})
    first_bid = at(3)
    assert first_bid["seq"] == 3
    assert first_bid["ranking"] == {"p1": [seeded.s1_first]}
    before_revoke = at(4)
    assert before_revoke["ranking"] == {"p1": [seeded.s2_bid, seeded.s1_first]}
    assert at(5)["ranking"] == {"p1": [seeded.s2_bid]}
    before_selection = at(7)
    assert (before_selection["status"], before_selection["winning_bid_ids"]) == ("decision", None)
    assert at(1000)["seq"] == 9  # past the end: the whole stream

    code, out, _ = run(capsys, "replay", seeded.decided, "--until-seq", "3", "--db", db(seeded))
    assert code == 0
    assert out.splitlines()[0].split()[-3:] == ["open", "seq", "3"]
    assert "2.50" in out and "2.25" not in out


def test_replay_of_an_unknown_auction(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "replay", "a-nope", "--db", db(seeded))
    assert (code, out) == (2, "")
    assert one_line(err) == "auctionactors: error: no auction a-nope in the database"


# --- a poisoned stream --------------------------------------------------------------------------


def poison(seeded: Seeded) -> int:
    """Append, through the store, an event of a type no code knows to the open auction."""

    async def append() -> int:
        async with await SqliteEventStore.open(seeded.path) as store:
            data = b'{"type":"mystery_event","at":0,"by":null}'
            result = await store.append(seeded.open, 3, [NewEvent("mystery_event", data)])
            return result.last_seq

    return asyncio.run(append())


def test_replay_of_a_poisoned_stream_names_the_seq(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    seq = poison(seeded)
    assert seq == 4
    code, out, err = run(capsys, "replay", seeded.open, "--db", db(seeded))
    assert (code, out) == (1, "")
    message = one_line(err)
    assert message.startswith("seq 4: ")
    assert "mystery_event" in message

    code, out, err = run(capsys, "replay", seeded.open, "--json", "--db", db(seeded))
    assert code == 1
    assert one_line(err).startswith("seq 4: ")
    failure = json.loads(out)
    assert (failure["auction_id"], failure["failed_seq"]) == (seeded.open, 4)

    # Up to the event before, the stream still replays; other auctions are untouched.
    code, out, _ = run(
        capsys, "replay", seeded.open, "--until-seq", "3", "--json", "--db", db(seeded)
    )
    assert (code, json.loads(out)["seq"]) == (0, 3)
    assert run(capsys, "replay", seeded.decided, "--db", db(seeded))[0] == 0


def test_verify_names_the_poisoned_event(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    poison(seeded)
    code, out, err = run(capsys, "verify", "--db", db(seeded))
    assert (code, err) == (1, "")
    damaged = [line for line in out.splitlines() if line.startswith("DAMAGED")]
    assert len(damaged) == 1
    assert damaged[0].startswith(f"DAMAGED {seeded.open} seq 4: ")
    assert out.splitlines()[-1].startswith("damaged: 3 streams, 14 events, 1 problems")

    code, out, _ = run(capsys, "verify", "--json", "--db", db(seeded))
    assert code == 1
    report = json.loads(out)
    assert [(p["stream_id"], p["seq"]) for p in report["problems"]] == [(seeded.open, 4)]


def test_events_and_auctions_on_a_poisoned_stream(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    poison(seeded)
    code, out, err = run(capsys, "events", seeded.open, "--json", "--db", db(seeded))
    assert code == 1
    assert [e["seq"] for e in json_lines(out)] == [1, 2, 3]  # everything before it
    assert one_line(err).startswith("seq 4: ")

    code, out, _ = run(capsys, "auctions", "--json", "--db", db(seeded))
    assert code == 0
    rows = {r["auction_id"]: r for r in json.loads(out)}
    # Appended without its catalog row (as only a program other than the runtime does): listed
    # as it is, without folding the stream to find out why.
    assert (rows[seeded.open]["status"], rows[seeded.open]["seq"]) == ("uncatalogued", 4)
    assert "seq 4" in rows[seeded.open]["error"]
    assert "at seq 3" in rows[seeded.open]["error"]
    assert rows[seeded.decided]["status"] == "closed"


# --- verify -------------------------------------------------------------------------------------


def test_verify_a_healthy_database(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "verify", "--db", db(seeded))
    assert (code, err) == (0, "")
    assert out == "ok: 3 streams, 13 events, 0 problems\n"
    code, out, _ = run(capsys, "verify", "--json", "--db", db(seeded))
    assert (code, json.loads(out)) == (0, {"streams": 3, "events": 13, "problems": []})


def raw_sql(path: Path, sql: str, *params: object) -> int:
    """Change the file behind the store's back, as a careless operator with sqlite3 would."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            changed = conn.execute(sql, params).rowcount
    finally:
        conn.close()
    return changed


def read_events(path: Path, stream_id: str) -> list[bytes]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT data FROM events WHERE stream_id = ? ORDER BY seq", (stream_id,)
        )
        return [row[0] for row in rows]
    finally:
        conn.close()


def test_verify_finds_an_edited_event(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    conn = sqlite3.connect(seeded.path)
    (data,) = conn.execute(
        "SELECT data FROM events WHERE stream_id = ? AND seq = 4", (seeded.decided,)
    ).fetchone()
    conn.close()
    assert b'"amount":225' in data
    edited = data.replace(b'"amount":225', b'"amount":200')  # still a valid event
    sql = "UPDATE events SET data = ? WHERE stream_id = ? AND seq = 4"
    assert raw_sql(seeded.path, sql, edited, seeded.decided) == 1

    code, out, _ = run(capsys, "verify", "--db", db(seeded))
    assert code == 1
    damaged = [line for line in out.splitlines() if line.startswith("DAMAGED")]
    # The auction's final snapshot no longer matches the fold of its (edited) events either.
    final_seq = len(read_events(seeded.path, seeded.decided))
    assert damaged == [
        f"DAMAGED {seeded.decided} seq 4: hash chain broken: event edited, lost or moved",
        f"DAMAGED {seeded.decided} seq {final_seq}: snapshot differs from the fold of its events",
    ]
    code, out, _ = run(capsys, "verify", "--json", "--db", db(seeded))
    assert code == 1
    assert [(p["stream_id"], p["seq"]) for p in json.loads(out)["problems"]] == [
        (seeded.decided, 4),
        (seeded.decided, final_seq),
    ]


def test_verify_finds_a_deleted_event(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    sql = "DELETE FROM events WHERE stream_id = ? AND seq = 5"
    assert raw_sql(seeded.path, sql, seeded.decided) == 1
    code, out, _ = run(capsys, "verify", "--json", "--db", db(seeded))
    assert code == 1
    problems = json.loads(out)["problems"]
    assert problems and all(p["stream_id"] == seeded.decided for p in problems)
    assert problems[0]["seq"] == 5
    assert "gap" in problems[0]["problem"]
    assert run(capsys, "verify", "--db", db(seeded))[0] == 1
    # Replay refuses to skip the hole (when it folds over it: the auction's final snapshot,
    # taken before the damage, is after it).
    code, _, err = run(capsys, "replay", seeded.decided, "--until-seq", "6", "--db", db(seeded))
    assert code == 1
    assert one_line(err).startswith("seq 5: missing event")


def tamper_snapshot(path: Path, stream_id: str, **changes: Any) -> int:
    """Rewrite the stream's stored snapshot (its state with ``changes``, or its version)."""
    conn = sqlite3.connect(path)
    try:
        seq, data = conn.execute(
            "SELECT seq, data FROM snapshots WHERE stream_id = ?", (stream_id,)
        ).fetchone()
        version = changes.pop("version", None)
        state = msgspec.msgpack.decode(data, type=AuctionState)
        data = msgspec.msgpack.encode(msgspec.structs.replace(state, **changes))
        with conn:
            sql = (
                "UPDATE snapshots SET data = ?, version = COALESCE(?, version) WHERE stream_id = ?"
            )
            conn.execute(sql, (data, version, stream_id))
    finally:
        conn.close()
    return int(seq)


def test_verify_finds_a_snapshot_that_differs_from_its_events(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    assert run(capsys, "verify", "--db", db(seeded))[0] == 0
    seq = tamper_snapshot(seeded.path, seeded.decided, winning_total=1)
    code, out, _ = run(capsys, "verify", "--db", db(seeded))
    assert code == 1
    damaged = [line for line in out.splitlines() if line.startswith("DAMAGED")]
    assert damaged == [
        f"DAMAGED {seeded.decided} seq {seq}: snapshot differs from the fold of its events"
    ]


def test_verify_ignores_a_snapshot_of_an_older_version(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    _, before, _ = run(capsys, "replay", seeded.decided, "--db", db(seeded))
    tamper_snapshot(seeded.path, seeded.decided, winning_total=1, version="0123456789abcdef")
    assert run(capsys, "verify", "--db", db(seeded))[0] == 0
    # ... and so does replay: it folds from seq 1, so the edit does not show.
    assert run(capsys, "replay", seeded.decided, "--db", db(seeded)) == (0, before, "")
    tamper_snapshot(seeded.path, seeded.decided, version=SNAPSHOT_VERSION)
    assert run(capsys, "replay", seeded.decided, "--db", db(seeded))[1] != before


# --- read commands open the database read-only -------------------------------------------------

READ_COMMANDS = [["auctions"], ["events", "a-1"], ["replay", "a-1"], ["verify"]]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_commands_change_no_byte_of_the_database(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    before = digest(seeded.path)
    for argv in (["auctions"], ["events", seeded.decided], ["replay", seeded.decided], ["verify"]):
        assert run(capsys, *argv, "--db", db(seeded))[0] == 0, argv
    assert digest(seeded.path) == before


def test_read_commands_work_while_a_writer_holds_the_write_lock(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    """As beside a running ``serve``, caught in the middle of a batch: nothing waits for the lock,
    and what is read is the last commit."""
    conn = sqlite3.connect(seeded.path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM events WHERE stream_id = ?", (seeded.decided,))
        code, out, err = run(capsys, "verify", "--db", db(seeded))
        assert (code, out, err) == (0, "ok: 3 streams, 13 events, 0 problems\n", "")
        code, out, _ = run(capsys, "auctions", "--json", "--db", db(seeded))
        assert code == 0
        assert len(json.loads(out)) == 3
        code, out, _ = run(capsys, "events", seeded.decided, "--json", "--db", db(seeded))
        assert code == 0
        assert len(json_lines(out)) == 9
        assert run(capsys, "replay", seeded.decided, "--db", db(seeded))[0] == 0
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.mark.parametrize("argv", READ_COMMANDS)
def test_read_commands_refuse_an_old_schema_and_leave_it_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrations.migrate(conn, target=1) == 1
    finally:
        conn.close()
    before = digest(path)
    code, out, err = run(capsys, *argv, "--db", str(path))
    assert (code, out) == (1, "")
    assert one_line(err) == (
        "auctionactors: failed: database schema version 1 needs migration; "
        f"run `auctionactors serve` once to migrate it to version {migrations.LATEST_VERSION}"
    )
    assert digest(path) == before
    conn = sqlite3.connect(path)
    try:
        assert migrations.schema_version(conn) == 1
    finally:
        conn.close()


# --- usage errors and the database's location -------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["auctions"], ["events", "a-1"], ["events", "a-1", "--follow"], ["replay", "a-1"], ["verify"]],
)
def test_read_commands_refuse_a_missing_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    path = tmp_path / "missing.db"
    code, out, err = run(capsys, *argv, "--db", str(path))
    assert (code, out) == (2, "")
    assert one_line(err) == (
        f"auctionactors: error: no database at {path} (use --db or $AUCTIONACTORS_DB)"
    )
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_directory_is_not_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "verify", "--db", str(tmp_path))
    assert code == 2
    assert "is a directory" in one_line(err)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["replay", "a-1", "--until-seq", "0", "--db", "DB"], "--until-seq: must be at least 1: 0"),
        (
            ["replay", "a-1", "--until-seq", "-3", "--db", "DB"],
            "--until-seq: must be at least 1: -3",
        ),
        (
            ["replay", "a-1", "--until-seq", "abc", "--db", "DB"],
            "--until-seq: not a whole number: 'abc'",
        ),
        (["frobnicate", "--db", "DB"], "invalid choice: 'frobnicate'"),
        (["events", "--db", "DB"], "the following arguments are required: auction_id"),
        (["replay", "--json", "--db", "DB"], "the following arguments are required: auction_id"),
        (["user"], "the following arguments are required: user_command"),
        ([], "the following arguments are required: command"),
        (["verify", "--bogus", "--db", "DB"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, argv: list[str], expected: str
) -> None:
    # Every command line is complete but for its error: a real database is named where it fits.
    code, out, err = run(capsys, *(db(seeded) if a == "DB" else a for a in argv))
    assert (code, out) == (2, "")
    message = one_line(err)
    assert message.startswith("auctionactors: error: ")
    assert expected in message


def test_help_returns_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "replay", "--help")
    assert code == 0
    assert "--until-seq" in out


def test_database_from_the_environment(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUCTIONACTORS_DB", db(seeded))
    code, out, _ = run(capsys, "auctions", "--json")
    assert code == 0
    assert {r["auction_id"] for r in json.loads(out)} == {
        seeded.decided,
        seeded.open,
        seeded.pending,
    }
    assert run(capsys, "verify")[0] == 0
    assert run(capsys, "replay", seeded.decided)[0] == 0
    # --db wins over the environment.
    monkeypatch.setenv("AUCTIONACTORS_DB", str(seeded.path.parent / "elsewhere.db"))
    assert run(capsys, "events", seeded.decided, "--db", db(seeded))[0] == 0
    code, _, err = run(capsys, "events", seeded.decided)
    assert code == 2
    assert "elsewhere.db" in one_line(err)


def test_database_defaults_to_the_current_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "auctions")
    assert code == 2
    assert "no database at auctionactors.db" in one_line(err)
    seeded = seed(tmp_path / "auctionactors.db")
    code, out, _ = run(capsys, "auctions", "--json")
    assert code == 0
    assert len(json.loads(out)) == 3
    assert run(capsys, "replay", seeded.pending)[0] == 0


def test_a_bad_log_level_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUCTIONACTORS_LOG_LEVEL", "ROOT")
    status, out, err = run(capsys, "serve", "--port", "0", "--db", str(tmp_path / "x.db"))
    assert status == 2 and out == ""
    assert err.startswith("auctionactors: error: AUCTIONACTORS_LOG_LEVEL must be")
    assert not (tmp_path / "x.db").exists()
