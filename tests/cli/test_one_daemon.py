"""One ``serve`` per database: a second daemon on the same file is refused with a clear message
(exit status 1), while the readers, ``backup`` and ``user add``/``revoke`` keep working beside
the running one. Real processes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from auctionactors.cli import main
from tests.faults.serving import create, instant_in, make_users, serving

from .process import start_cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_second_serve_on_one_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.db"
    users = make_users(path)
    with serving(path) as first:
        auction_id = asyncio.run(
            create(first.url, users, instant_in(0, time.time_ns() // 1000), duration_s=3600)
        )
        second = start_cli("serve", "--db", str(path), "--port", "0")
        out, err = second.communicate(timeout=30)
        assert second.returncode == 1, (out, err)
        assert f"another auctionactors serve is using {path}" in err
        assert "listening" not in out
        # Beside the running daemon: the readers, backup and accounts.
        db = ("--db", str(path))
        assert run(capsys, "auctions", *db)[0] == 0
        code, out, _ = run(capsys, "events", auction_id, *db, "--json")
        assert code == 0 and "auction_started" in out
        assert run(capsys, "replay", auction_id, *db)[0] == 0
        assert run(capsys, "verify", *db)[0] == 0
        assert run(capsys, "backup", str(tmp_path / "copy.db"), *db)[0] == 0
        code, out, _ = run(capsys, "user", "add", "--company", "Late Co", "--role", "observer",
                           "--name", "Lou", *db)  # fmt: skip
        assert code == 0
        token = json.loads(out)["token"]
        assert run(capsys, "user", "revoke", "--token", token, *db)[0] == 0
        assert first.proc.poll() is None  # the first daemon is unharmed
    # Once the first is gone (even killed), a new daemon may take the database.
    with serving(path) as again:
        assert again.proc.poll() is None
