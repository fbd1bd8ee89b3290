"""The command line with ``--db postgresql://...``: every subcommand that opens a store works on
a real PostgreSQL database (each test has its own, see tests/pg.py), in-process and as real
``serve`` and ``demo`` processes; ``backup`` points to pg_dump."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import asyncpg
import pytest

from auctionactors.cli import main
from tests.faults.serving import create, instant_in, make_users, serving

from .process import LineReader, start_cli
from .seed import seed


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_user_add_and_revoke(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "user", "add", "--company", "Shipco", "--role", "buyer", "--name", "Bo",
        "--db", pg_url,
    )  # fmt: skip
    assert (code, err) == (0, "")
    token = json.loads(out)["token"]
    assert run(capsys, "user", "revoke", "--token", token, "--db", pg_url)[:2] == (0, "revoked\n")
    code, _, err = run(capsys, "user", "revoke", "--token", token, "--db", pg_url)
    assert code == 1 and "no such active token" in err


def test_the_readers_on_a_database_the_runtime_wrote(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed(pg_url)
    code, out, err = run(capsys, "auctions", "--json", "--db", pg_url)
    assert (code, err) == (0, "")
    rows = {row["auction_id"]: row for row in json.loads(out)}
    assert rows.keys() == {seeded.decided, seeded.open, seeded.pending}
    assert (rows[seeded.decided]["status"], rows[seeded.decided]["seq"]) == ("closed", 9)
    code, out, _ = run(capsys, "events", seeded.decided, "--json", "--db", pg_url)
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == list(range(1, 10))
    code, out, _ = run(capsys, "replay", seeded.decided, "--json", "--db", pg_url)
    assert code == 0 and json.loads(out)["status"] == "closed"
    code, out, _ = run(capsys, "verify", "--db", pg_url)
    assert code == 0 and "ok: 3 streams, " in out


def test_verify_finds_an_edited_event(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = seed(pg_url)

    async def tamper() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(
                "UPDATE events SET data = data || ' '::bytea WHERE stream_id = $1 AND seq = 3",
                seeded.decided,
            )
        finally:
            await conn.close()

    asyncio.run(tamper())
    code, out, _ = run(capsys, "verify", "--json", "--db", pg_url)
    assert code == 1
    problems = json.loads(out)["problems"]
    assert {"stream_id": seeded.decided, "seq": 3} in [
        {k: p[k] for k in ("stream_id", "seq")} for p in problems
    ]


def test_backup_of_a_url_points_to_pg_dump(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "backup", "copy.db", "--db", pg_url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "pg_dump" in err


def test_a_reader_on_an_empty_database_says_it_needs_migrating(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "auctions", "--db", pg_url)
    assert code == 1 and err.count("\n") == 1 and "needs migration" in err


def test_an_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "verify", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1 and err.count("\n") == 1 and "cannot open" in err


def test_serve_on_postgres_acts_on_deadlines_and_stops_on_sigterm(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    users = make_users(pg_url)
    with serving(pg_url) as served:
        now_us = time.time_ns() // 1000
        auction_id = asyncio.run(create(served.url, users, instant_in(1, now_us), duration_s=1))
        deadline = time.monotonic() + 20
        while True:  # the daemon alone ends the auction (a real process: poll, with a deadline)
            _, out, _ = run(capsys, "events", auction_id, "--json", "--db", pg_url)
            kinds = [json.loads(line)["type"] for line in out.splitlines()]
            if "auction_ended" in kinds:
                break
            assert served.proc.poll() is None, "serve died"
            assert time.monotonic() < deadline, f"not ended in time: {kinds}"
            time.sleep(0.1)
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=20) == 0
        assert served.out.rest()[-1] == "auctionactors: stopped"
    assert run(capsys, "verify", "--db", pg_url)[0] == 0


def test_demo_on_postgres(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    proc = start_cli("demo", "--db", pg_url, "--port", "0", "--duration", "2", "--think", "0.2")
    try:
        out = LineReader(proc.stdout)  # type: ignore[arg-type]
        assert out.next(timeout=15) == f"demo store: {pg_url}"
        deadline = time.monotonic() + 60
        seen: list[str] = []
        while not any("bid_placed" in line for line in seen):
            assert time.monotonic() < deadline, "no bid within 60 s"
            seen.append(out.next(timeout=30))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    code, out, _ = run(capsys, "verify", "--db", pg_url)
    assert code == 0, out
    # The database is not fresh any more: a second demo on it is refused.
    assert run(capsys, "demo", "--db", pg_url)[0] == 2
