"""``export`` and ``verify-export`` on a real database and real files: the chain holds, the
first tampered seq is named (exit 1), bad input is one line (exit 2)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from auctionactors.cli import main

from .seed import S1, Seeded


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def export(capsys: pytest.CaptureFixture[str], seeded: Seeded, *extra: str) -> str:
    code, out, err = run(capsys, "export", seeded.decided, "--db", str(seeded.path), *extra)
    assert (code, err) == (0, "")
    return out


def verify(capsys: pytest.CaptureFixture[str], path: Path, text: str) -> tuple[int, str, str]:
    path.write_text(text, encoding="utf-8")
    return run(capsys, "verify-export", str(path))


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def dump(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_the_whole_log_with_its_chain(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, tmp_path: Path
) -> None:
    lines = jsonl(export(capsys, seeded))
    code, out, _ = run(capsys, "events", seeded.decided, "--json", "--db", str(seeded.path))
    assert code == 0
    # Each event as `events --json` shows it (an admin's view), plus its links and payload.
    assert [{k: line[k] for k in ("seq", "type", "at", "by", "data")} for line in lines] == (
        jsonl(out)
    )
    assert [line["seq"] for line in lines] == list(range(1, 10))
    assert all("payload" in line and "payload_sha256" not in line for line in lines)
    assert lines[0]["prev_hash"] == "0" * 64
    assert all(a["hash"] == b["prev_hash"] for a, b in itertools.pairwise(lines))
    code, out, err = verify(capsys, tmp_path / "all.jsonl", dump(lines))
    assert (code, err) == (0, "")
    assert out == (
        f"ok: {seeded.decided} seq 1..9: 9 events checked in full, 0 through the chain; "
        f"head hash {lines[-1]['hash']}\n"
    )


def test_a_supplier_sees_its_own_events_whole_and_the_others_committed(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, tmp_path: Path
) -> None:
    lines = jsonl(export(capsys, seeded, "--as", S1.company_id))
    everything = jsonl(export(capsys, seeded))
    assert [line["hash"] for line in lines] == [line["hash"] for line in everything]
    by_seq = {line["seq"]: line for line in lines}
    own, competitor = by_seq[3], by_seq[4]  # S1's first bid; S2's bid
    assert own["payload"] == everything[2]["payload"]
    assert "payload" not in competitor and competitor["by"] is None
    assert competitor["data"]["supplier"] is None
    assert len(competitor["payload_sha256"]) == 64
    assert "c-s2" not in json.dumps(lines)
    code, out, _ = verify(capsys, tmp_path / "s1.jsonl", dump(lines))
    assert code == 0 and "through the chain" in out


def test_until_seq_and_csv(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, tmp_path: Path
) -> None:
    text = export(capsys, seeded, "--format", "csv", "--until-seq", "4", "--as", S1.company_id)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["seq"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[2]["data.amount"] == "2.50" and rows[2]["by.user_id"] == S1.user_id
    assert rows[3]["data.amount"] == "2.25" and rows[3]["by.user_id"] == ""
    code, out, _ = verify(capsys, tmp_path / "s1.csv", text)
    assert code == 0 and out.startswith(f"ok: {seeded.decided} seq 1..4: ")
    # A shown amount changed in the CSV: caught against the payload.
    tampered = text.replace(",2.50,", ",2.40,", 1)
    assert tampered != text
    code, out, _ = verify(capsys, tmp_path / "t.csv", tampered)
    assert (code, out) == (1, "tampered: seq 3: what is shown is not what its payload holds\n")


def test_tampering_is_named_at_its_first_seq(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, tmp_path: Path
) -> None:
    lines = jsonl(export(capsys, seeded, "--as", S1.company_id))
    hidden = next(i for i, line in enumerate(lines) if "payload" not in line and i < 8)

    def tampered(change: Any) -> str:
        copy = json.loads(json.dumps(lines))
        change(copy)
        code, out, err = verify(capsys, tmp_path / "t.jsonl", dump(copy))
        assert (code, err) == (1, "")
        assert out.count("\n") == 1
        return str(out)

    def shown(c: list[dict[str, Any]]) -> None:
        c[5]["data"]["amount"] = "1.00"

    def payload(c: list[dict[str, Any]]) -> None:
        c[5]["payload"] = c[5]["payload"].replace("275", "270")

    def dropped(c: list[dict[str, Any]]) -> None:
        del c[6]

    def swapped(c: list[dict[str, Any]]) -> None:
        c[2], c[3] = c[3], c[2]

    def relinked(c: list[dict[str, Any]]) -> None:  # a hidden event replaced, links redone
        c[hidden]["hash"] = "ab" * 32
        c[hidden + 1]["prev_hash"] = "ab" * 32

    assert tampered(shown) == "tampered: seq 6: what is shown is not what its payload holds\n"
    assert tampered(payload).startswith("tampered: seq 6: the hash chain is broken")
    assert tampered(dropped).startswith("tampered: seq 7: missing or moved")
    assert tampered(swapped).startswith("tampered: seq 3: missing or moved")
    assert tampered(relinked).startswith(f"tampered: seq {hidden + 2}: the hash chain is broken")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: not an export"),
        ("{not json\n", "line 1 is not JSON"),
        ('{"seq": 1}\n', "line 1: auction_id missing"),
        ("a,b\n1,2\n", "is not an export: no column"),
        ("auction_id,seq,at,type,prev_hash,hash\n", "holds no events"),
        ("\udcff", "cannot read"),
    ],
)
def test_verify_export_refuses_what_is_not_an_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    code, out, err = run(capsys, "verify-export", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err, err


def test_export_usage_errors(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    db = ["--db", str(seeded.path)]
    for argv, message in (
        (["export", "a-nope", *db], "no auction a-nope"),
        (["export", seeded.decided, "--until-seq", "10", *db], "beyond the auction's seq 9"),
        (["export", seeded.decided, "--until-seq", "0", *db], "--until-seq"),
        (["export", seeded.decided, "--as", "c-nobody", *db], "no company c-nobody"),
        (["export", seeded.decided, "--format", "xml", *db], "--format"),
        (["verify-export", str(seeded.path.parent / "missing.jsonl")], "no file"),
    ):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and message in err, (argv, err)
