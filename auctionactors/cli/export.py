"""``auctionactors export``: an auction's audit log as one receiver may see it, with the hash
chain, for an auditor to check offline (``auctionactors verify-export``, `cli/audit.py`).

Each event is filtered exactly as the gateway filters ``get_events`` for that receiver
(`redaction.filter_events`, with the auction's current state; no ``--as``: everything, as an
admin sees it). Besides what the receiver sees (``seq``, ``at``, ``type``, ``by``, ``data``),
every event carries its links of the store's hash chain, ``prev_hash`` and ``hash`` (hex), and:

- ``payload``: the event exactly as stored (compact JSON), when the receiver sees all of it
  (what it sees is the whole event): the auditor recomputes its link and checks what is shown
  against it;
- ``payload_sha256`` instead, when the receiver sees part of it or nothing (``redacted``): a
  commitment to the hidden payload that reveals nothing of it. Its link cannot be recomputed
  without the payload, but its ``hash`` is the next event's ``prev_hash``, which the next
  recomputed link covers; so the chain is checked across it.

JSON Lines: one object a line. CSV: one row per event, ``by`` and ``data`` flattened into
``by.KEY`` and ``data.PATH.TO.LEAF`` columns (list items by index; a string as it is, anything
else as JSON, null as an empty cell).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

from auctionactors.cli.stores import open_store
from auctionactors.domain.access import Viewer
from auctionactors.domain.present import event_entry
from auctionactors.domain.redaction import filter_events
from auctionactors.errors import CorruptionError, UsageError
from auctionactors.runtime.replay import ReplayFailed, rebuild
from auctionactors.store.base import StoredEvent
from auctionactors.store.codec import decode_event

FORMATS = ("jsonl", "csv")
CHAIN = ("prev_hash", "hash", "payload", "payload_sha256")
BASE_COLUMNS = ("auction_id", "seq", "at", "type")
OPERATOR = Viewer("", "admin")  # no --as: the whole log, as an admin sees it


async def export(args: argparse.Namespace) -> int:
    from auctionactors.cli.commands import company_viewer

    async with open_store(args.db) as store:
        highest = await store.highest_seq(args.auction_id)
        if highest == 0:
            raise UsageError(f"no auction {args.auction_id} in the database")
        if args.until_seq is not None and args.until_seq > highest:
            raise UsageError(f"--until-seq {args.until_seq} is beyond the auction's seq {highest}")
        try:
            state = await rebuild(store, args.auction_id)
        except ReplayFailed as exc:
            print(f"seq {exc.seq}: {exc.error}", file=sys.stderr)
            return 1
        assert state is not None
        viewer = OPERATOR
        if args.as_company is not None:
            viewer = await company_viewer(store, state, args.as_company)
        records = await store.read_stream(args.auction_id, to_seq=args.until_seq)
    try:
        events = [decode_event(r) for r in records]
    except CorruptionError as exc:
        print(f"auctionactors: failed: {exc}", file=sys.stderr)
        return 1
    shown = filter_events(state, viewer, 1, events)
    if shown is None:
        print(
            f"auctionactors: failed: company {viewer.company_id} may not see {args.auction_id}",
            file=sys.stderr,
        )
        return 1
    lines = [_line(r, e, entry) for r, e, entry in zip(records, events, shown, strict=True)]
    write = _jsonl if args.format == "jsonl" else _csv
    sys.stdout.write(write(lines))
    sys.stdout.flush()
    return 0


def _line(record: StoredEvent, event: Any, shown: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"auction_id": record.stream_id, **shown}
    line["prev_hash"] = None  # set by `_link`
    line["hash"] = record.hash.hex()
    if shown == event_entry(record.seq, event):
        line["payload"] = record.data.decode()
    else:
        line["payload_sha256"] = hashlib.sha256(record.data).hexdigest()
    return line


def _linked(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prev = "00" * 32  # the chain's genesis
    for line in lines:
        line["prev_hash"] = prev
        prev = line["hash"]
    return lines


def _jsonl(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in _linked(lines))


def _csv(lines: list[dict[str, Any]]) -> str:
    rows = [flat_row(line) for line in _linked(lines)]
    columns = list(BASE_COLUMNS) + list(CHAIN)
    seen = set(columns)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def flat_row(line: dict[str, Any]) -> dict[str, str]:
    """An export line as CSV cells: ``by`` and ``data`` flattened (see the module docstring)."""
    row = {key: cell(line.get(key)) for key in (*BASE_COLUMNS, *CHAIN) if key in line}
    for prefix in ("by", "data"):
        row.update(flatten(prefix, line.get(prefix)))
    return row


def flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from flatten(f"{prefix}.{key}", item)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from flatten(f"{prefix}.{i}", item)
    elif value is not None:
        yield prefix, cell(value)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def add_parsers(sub: Any, add_db: Any, until_seq: Any) -> None:
    """``export`` and ``verify-export``, for `auctionactors.cli.build_parser`."""
    p = sub.add_parser("export", help="an auction's audit log as one receiver may see it")
    p.add_argument("auction_id")
    p.add_argument("--format", choices=FORMATS, default="jsonl")
    p.add_argument(
        "--as",
        dest="as_company",
        metavar="COMPANY_ID",
        default=None,
        help="as that company may see it (get_events' filtering); default: everything",
    )
    p.add_argument("--until-seq", type=until_seq, default=None)
    add_db(p)
    v = sub.add_parser("verify-export", help="check an export offline (its hash chain)")
    v.add_argument("file", help="a file written by `auctionactors export` (JSON Lines or CSV)")
    v.add_argument("--json", action="store_true", help="machine-readable output")
