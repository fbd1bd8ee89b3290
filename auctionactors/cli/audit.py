"""``auctionactors verify-export FILE``: check an export (`cli/export.py`) offline.

1. The lines are one auction's, with every seq from 1, in order (a missing, repeated or moved
   event is found at its seq).
2. Every ``prev_hash`` is the previous event's ``hash`` (the genesis, 32 zero bytes, for seq 1).
3. An event with its ``payload`` (the receiver sees all of it): its link is recomputed,
   ``hash = sha256(prev_hash ‖ auction_id ‖ seq ‖ type ‖ payload)`` with each part after the
   first preceded by its length (8 bytes, big-endian), exactly as the store chains its events
   (`store.base.chain_hash`); and what the export shows of it (``at``, ``by``, ``data``) must be
   that payload in the protocol's notation. ``payload_sha256``, when given too, must match.
4. An event shown in part or not at all carries ``payload_sha256`` instead: its own link cannot
   be recomputed without the hidden payload, but its ``hash`` is an input of the next event's
   recomputed link, so replacing it (or the event) breaks the chain there.

The last events, when none after them carries its payload, are covered by nothing but the
export's head hash (the last ``hash``): compare it with another copy (another receiver's
export up to the same seq, or the operator's) to know that nothing was cut or changed there.
What is shown of an event without its payload (e.g. a competitor's bid to a supplier) cannot be
checked offline: the proof would reveal what is hidden.

Exit status: 0 intact; 1 tampered (one line naming the first bad seq); 2 not an export.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
from typing import Any

from auctionactors.cli.export import BASE_COLUMNS, CHAIN, flat_row
from auctionactors.domain.present import event_entry
from auctionactors.errors import AuctionActorsError, CorruptionError, UsageError
from auctionactors.store.base import GENESIS_HASH, StoredEvent, chain_hash
from auctionactors.store.codec import decode_event

HEX = re.compile(r"[0-9a-f]{64}")


class Tampered(AuctionActorsError):
    """The export does not hold together at ``seq``."""

    def __init__(self, seq: int, why: str) -> None:
        super().__init__(f"seq {seq}: {why}")
        self.seq = seq


async def verify_export(args: argparse.Namespace) -> int:
    lines, flat = _read(args.file)
    try:
        report = check(lines, flat)
    except Tampered as exc:
        if args.json:
            print(json.dumps({"ok": False, "seq": exc.seq, "problem": str(exc)}))
        else:
            print(f"tampered: {exc}")
        return 1
    if args.json:
        print(json.dumps({"ok": True, **report}, separators=(",", ":")))
        return 0
    tail = report["unanchored"]
    print(
        f"ok: {report['auction_id']} seq 1..{report['seq']}: {report['full']} events checked "
        f"in full, {report['partial']} through the chain"
        + (f" ({tail} at the end through the head hash alone)" if tail else "")
        + f"; head hash {report['head']}"
    )
    return 0


def _read(path: str) -> tuple[list[dict[str, Any]], bool]:
    """The export's lines (CSV: as flat rows of cells) and whether it is CSV; `UsageError` for
    a file that is not an export."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise UsageError(f"no file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not text.strip():
        raise UsageError(f"{path} is empty: not an export")
    flat = not text.lstrip().startswith("{")
    lines = _csv(path, text) if flat else _jsonl(path, text)
    if not lines:
        raise UsageError(f"{path} holds no events: not an export")
    return lines, flat


def _jsonl(path: str, text: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} line {number} is not JSON: {exc.msg}") from None
        if not isinstance(line, dict):
            raise UsageError(f"{path} line {number} is not an object")
        _require(path, number, line)
        lines.append(line)
    return lines


def _csv(path: str, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {*BASE_COLUMNS, "prev_hash", "hash"} - set(reader.fieldnames or ())
    if missing:
        raise UsageError(f"{path} is not an export: no column {', '.join(sorted(missing))}")
    rows: list[dict[str, Any]] = []
    try:
        for number, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise UsageError(f"{path} line {number} has not as many cells as columns")
            line: dict[str, Any] = {k: v for k, v in row.items() if v != "" or k in BASE_COLUMNS}
            if not line["seq"].isdigit():
                raise UsageError(f"{path} line {number}: seq is not a number")
            line["seq"] = int(line["seq"])
            _require(path, number, line)
            rows.append(line)
    except csv.Error as exc:
        raise UsageError(f"{path} is not CSV: {exc}") from None
    return rows


def _require(path: str, number: int, line: dict[str, Any]) -> None:
    for key, kind in (("auction_id", str), ("seq", int), ("type", str), ("hash", str)):
        if not isinstance(line.get(key), kind) or isinstance(line.get(key), bool):
            raise UsageError(f"{path} line {number}: {key} missing or not a {kind.__name__}")
    for key in CHAIN:
        if key in line and not isinstance(line[key], str):
            raise UsageError(f"{path} line {number}: {key} is not a string")
    if "payload" not in line and "payload_sha256" not in line:
        raise UsageError(f"{path} line {number}: neither payload nor payload_sha256")


def check(lines: list[dict[str, Any]], flat: bool) -> dict[str, Any]:
    """The export's summary; `Tampered` at the first seq where it does not hold together."""
    auction_id = lines[0]["auction_id"]
    prev = GENESIS_HASH.hex()
    full = partial = unanchored = 0
    for expected, line in enumerate(lines, start=1):
        seq = line["seq"]
        if line["auction_id"] != auction_id:
            raise Tampered(seq, f"of auction {line['auction_id']}, not {auction_id}")
        if seq != expected:
            raise Tampered(expected, f"missing or moved (the line in its place says seq {seq})")
        for key in ("prev_hash", "hash", "payload_sha256"):
            if key in line and not HEX.fullmatch(line[key]):
                raise Tampered(seq, f"{key} is not 64 lowercase hex digits")
        if line.get("prev_hash") != prev:
            raise Tampered(seq, "prev_hash is not the previous event's hash")
        if "payload" in line:
            _check_payload(line, flat)
            full += 1
            partial += unanchored  # the hidden events before it are covered by its link
            unanchored = 0
        else:
            unanchored += 1
        prev = line["hash"]
    return {
        "auction_id": auction_id,
        "seq": len(lines),
        "full": full,
        "partial": partial,
        "unanchored": unanchored,
        "head": prev,
    }


def _check_payload(line: dict[str, Any], flat: bool) -> None:
    seq, payload = line["seq"], line["payload"].encode()
    given = line.get("payload_sha256")
    if given is not None and given != hashlib.sha256(payload).hexdigest():
        raise Tampered(seq, "payload_sha256 does not match the payload")
    prev = bytes.fromhex(line["prev_hash"])
    link = chain_hash(prev, line["auction_id"], seq, line["type"], payload)
    if link.hex() != line["hash"]:
        raise Tampered(seq, "the hash chain is broken: the event or its hash was changed")
    stored = StoredEvent(line["auction_id"], seq, 0, line["type"], payload, link)
    try:
        entry = event_entry(seq, decode_event(stored))
    except CorruptionError as exc:
        raise Tampered(seq, f"the payload does not decode: {exc}") from None
    if flat:
        expected = flat_row({"auction_id": line["auction_id"], **entry})
        shown = {k: v for k, v in line.items() if k == "at" or k.startswith(("by.", "data."))}
        wanted = {
            k: v
            for k, v in expected.items()
            if (k == "at" or k.startswith(("by.", "data."))) and (v != "" or k == "at")
        }
        if shown != wanted:
            raise Tampered(seq, "what is shown is not what its payload holds")
    elif {k: line.get(k) for k in entry} != entry:
        raise Tampered(seq, "what is shown is not what its payload holds")
