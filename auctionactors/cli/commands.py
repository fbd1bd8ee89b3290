"""The subcommands. Each returns an exit status; bad input raises `UsageError` (exit 2)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from operator import itemgetter
from typing import Any

import msgspec

from auctionactors.cli import daemon, verification
from auctionactors.cli.stores import PG_DUMP_HINT, Store, check_db_path, open_store
from auctionactors.domain.bounds import check_text
from auctionactors.domain.present import event_entry, state_document
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import format_instant
from auctionactors.domain.views import Viewer, product_label, view
from auctionactors.errors import CorruptionError, DomainError, UsageError
from auctionactors.runtime import solver
from auctionactors.runtime.replay import ReplayFailed, rebuild
from auctionactors.store.codec import Listed, decode_event, decode_listed
from auctionactors.store.postgres import is_postgres_url
from auctionactors.store.sqlite import SqliteEventStore

FOLLOW_POLL_S = 0.5


async def run(args: argparse.Namespace) -> int:
    handler = {
        "serve": daemon.serve,
        "status": daemon.status,
        "revive": daemon.revive,
        "user": user,
        "backup": backup,
        "auctions": auctions,
        "events": events,
        "replay": replay,
        "verify": verify,
        "demo": demo,
    }[args.command]
    return await handler(args)


def _check_new_path(path: str) -> None:
    if os.path.exists(path):
        raise UsageError(f"{path} exists; a backup goes to a new file")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise UsageError(f"no folder {folder} for {path}")


def _print_json(value: Any) -> None:
    print(json.dumps(value, separators=(",", ":")), flush=True)


def _time(t: int | None) -> str:
    return format_instant(t) if t is not None else "-"


def _instant(t: int | None) -> str | None:
    """An instant for JSON output: RFC 3339, or null when not set (as in the protocol's view)."""
    return format_instant(t) if t is not None else None


def _absolute(path: str) -> str:
    return os.path.abspath(path)


async def user(args: argparse.Namespace) -> int:
    if args.user_command == "revoke":
        check_db_path(args.db, create=False)  # revoking needs an existing store, opened writable
        async with open_store(args.db, create=True) as store:
            revoked = await store.revoke_token(args.token)
        if not revoked:
            print("auctionactors: no such active token", file=sys.stderr)
            return 1
        print("revoked", flush=True)
        return 0
    return await user_add(args)


async def backup(args: argparse.Namespace) -> int:
    """Copy the store with SQLite's online backup (safe beside a running daemon), then check
    the copy the way `verify` does."""
    if is_postgres_url(args.db):
        raise UsageError(PG_DUMP_HINT)
    dest = _absolute(args.dest)
    _check_new_path(dest)
    async with open_store(args.db) as store:
        assert isinstance(store, SqliteEventStore)  # a URL was refused above
        await store.backup(dest)
    args.db = dest
    print(f"backup written to {dest}", flush=True)
    return await verify(args)


async def user_add(args: argparse.Namespace) -> int:
    for field in ("company", "name"):
        try:
            check_text(getattr(args, field), f"--{field}")
        except DomainError as exc:
            raise UsageError(exc.message) from None
    async with open_store(args.db, create=True) as store:
        user = await store.add_user(args.company.strip(), args.role, args.name.strip())
    _print_json({"company_id": user.company_id, "user_id": user.user_id, "token": user.token})
    return 0


async def _load(store: Store, auction_id: str, until: int | None) -> AuctionState:
    state = await rebuild(store, auction_id, until_seq=until)
    if state is None:
        raise UsageError(f"no auction {auction_id} in the database")
    return state


async def demo(args: argparse.Namespace) -> int:
    from auctionactors.cli.demo import demo as run  # the client and the gateway: loaded here

    return await run(args)


async def auctions(args: argparse.Namespace) -> int:
    """The catalog, one row per auction, without loading any stream (one query for the rows,
    one for the streams whose last events are not in theirs)."""
    # 100k auctions allocate about a million objects, none in a cycle: without this, the
    # collector walks them again and again, and the listing takes twice as long.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _auctions(args)
    finally:
        if collecting:
            gc.enable()


async def _auctions(args: argparse.Namespace) -> int:
    async with open_store(args.db) as store:
        listed = await store.listing()
        behind = await store.uncatalogued()
    rows: list[tuple[str, Listed | dict[str, Any]]]
    rows = [(b[0], _uncatalogued_row(*b)) for b in behind]
    left_out = {found[0] for found in behind}
    for stream_id, seq, _, data in listed:
        if stream_id in left_out:
            continue
        # A row that cannot be read is reported on its own line; it never ends the list
        # (whatever an older version stored).
        try:
            rows.append((stream_id, decode_listed(stream_id, data)))
        except Exception as exc:
            error = str(exc) if isinstance(exc, CorruptionError) else _failure(exc)
            row = {"auction_id": stream_id, "seq": seq, "status": "unreadable", "error": error}
            rows.append((stream_id, row))
    rows.sort(key=itemgetter(0))
    if args.json:  # the same compact JSON as `_print_json`, five times faster
        docs = [_auction_row(r) if isinstance(r, Listed) else r for _, r in rows]
        print(msgspec.json.encode(docs).decode(), flush=True)
        return 0
    # Straight from the decoded rows to lines (no dict per row): 100k auctions in about 1 s.
    lines = [f"{'AUCTION':<16} {'STATUS':<10} {'SEQ':>6}  {'START':<27} {'CLOSES':<27} DECISION"]
    for _, r in rows:
        if isinstance(r, Listed):
            start, closes = _time(r.scheduled_start), _time(r.closes_at)
            lines.append(
                f"{r.auction_id:<16} {r.status:<10} {r.seq:>6}  "
                f"{start:<27} {closes:<27} {_time(r.decision_closes_at)}"
            )
        else:
            lines.append(
                f"{r['auction_id']:<16} {r['status']:<10} {r['seq']:>6}  "
                f"{'-':<27} {'-':<27} {r['error']}"
            )
    print("\n".join(lines), flush=True)
    return 0


def _auction_row(summary: Listed) -> dict[str, Any]:
    return {
        "auction_id": summary.auction_id,
        "status": summary.status,
        "seq": summary.seq,
        "port": summary.port,
        "buyer": summary.buyer.name,
        "scheduled_start": _instant(summary.scheduled_start),
        "closes_at": _instant(summary.closes_at),
        "decision_closes_at": _instant(summary.decision_closes_at),
    }


def _uncatalogued_row(stream_id: str, seq: int, catalogued: int) -> dict[str, Any]:
    """A stream whose latest events are not in its catalog row (or that has none): written by
    code that kept no catalog, or an event the domain cannot apply. `verify` tells which."""
    row = "no catalog row" if catalogued == 0 else f"its catalog row is at seq {catalogued}"
    error = f"events up to seq {seq} are not in the catalog ({row}); run `auctionactors verify`"
    return {"auction_id": stream_id, "seq": seq, "status": "uncatalogued", "error": error}


def _failure(exc: BaseException) -> str:
    """A failure to show something stored, in one line (never a traceback)."""
    return f"cannot be shown: {type(exc).__name__}: {exc}"


def _print_event(entry: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(entry)
        return
    by = entry["by"]
    who = (
        "clock"
        if by is None
        else by["user_id"] + (f" (admin {by['admin_id']})" if by["admin_id"] else "")
    )
    data = json.dumps(entry["data"], separators=(",", ":"))
    print(f"{entry['seq']:>6}  {entry['at']}  {entry['type']:<26} {who:<24} {data}", flush=True)


async def events(args: argparse.Namespace) -> int:
    async with open_store(args.db) as store:
        if await store.highest_seq(args.auction_id) == 0:
            raise UsageError(f"no auction {args.auction_id} in the database")
        after = 0
        failed = False
        while True:
            for record in await store.read_stream(args.auction_id, from_seq=after + 1):
                try:
                    event = decode_event(record)
                except CorruptionError as exc:
                    print(f"seq {record.seq}: {exc}", file=sys.stderr)
                    return 1
                try:
                    _print_event(event_entry(record.seq, event), args.json)
                except Exception as exc:  # reported on its line; the log goes on
                    failed = True
                    _print_event_failure(record.seq, record.type, exc, args.json)
                after = record.seq
            if not args.follow:
                return 1 if failed else 0
            await asyncio.sleep(FOLLOW_POLL_S)


def _print_event_failure(seq: int, kind: str, exc: Exception, as_json: bool) -> None:
    if as_json:
        _print_json({"seq": seq, "type": kind, "error": _failure(exc)})
    else:
        print(f"{seq:>6}  {kind:<26} {_failure(exc)}", flush=True)


async def replay(args: argparse.Namespace) -> int:
    async with open_store(args.db) as store:
        try:
            state = await _load(store, args.auction_id, args.until_seq)
        except ReplayFailed as exc:
            print(f"seq {exc.seq}: {exc.error}", file=sys.stderr)
            if args.json:
                _print_json(
                    {"auction_id": args.auction_id, "failed_seq": exc.seq, "error": exc.error}
                )
            return 1
        if args.as_company is not None:
            viewer = await _viewer(store, state, args.as_company)
            try:
                return _print_view(state, viewer, args.json)
            except Exception as exc:
                print(f"auctionactors: failed: the view {_failure(exc)}", file=sys.stderr)
                return 1
    try:
        return _print_state(state, args.json)
    except Exception as exc:
        print(f"auctionactors: failed: the state {_failure(exc)}", file=sys.stderr)
        return 1


def _print_state(state: AuctionState, as_json: bool) -> int:
    doc = state_document(state)
    if as_json:
        _print_json(doc)
        return 0
    print(f"auction {state.auction_id}  status {state.status}  seq {state.seq}")
    print(f"  port {state.terms.port}  buyer {state.terms.buyer.name}")
    print(
        f"  start {_time(state.terms.scheduled_start)}  closes {_time(state.closes_at)}"
        f"  decision until {_time(state.decision_closes_at)}"
    )
    for product_id, product in state.products.items():
        print(f"  {product_id}: {product_label(product)} {product.quantity_mt} MT")
        for rank, bid in enumerate(state.ranked(product_id), start=1):
            amount = doc["bids"][bid.bid_id]["amount"]
            print(f"    {rank}. {amount:>10}  {bid.supplier_id}  {bid.bid_id}")
    if state.winning_bid_ids is not None:
        print(f"  winning: {', '.join(state.winning_bid_ids)}  total {doc['winning_total']}")
    return 0


async def _viewer(store: Store, state: AuctionState, company_id: str) -> Viewer:
    """The company as a receiver: its role from the accounts, else from the auction's own facts
    (its buyer, suppliers and observers are in its events), so a store without accounts works."""
    company = await store.company(company_id)
    if company is not None:
        return Viewer(company.company_id, company.role)
    if company_id == state.terms.buyer.id:
        return Viewer(company_id, "buyer")
    if state.is_supplier(company_id):
        return Viewer(company_id, "supplier")
    if company_id in state.observers:
        return Viewer(company_id, "observer")
    raise UsageError(f"no company {company_id} in the database or the auction")


def _print_view(state: AuctionState, viewer: Viewer, as_json: bool) -> int:
    """The company's view, exactly what ``get_view`` returns it (``server_time``: now)."""
    doc = view(state, viewer, time.time_ns() // 1000, solver.solutions_now(state))
    if doc is None:
        print(
            f"auctionactors: failed: company {viewer.company_id} may not see {state.auction_id}",
            file=sys.stderr,
        )
        return 1
    if as_json:
        _print_json(doc)
    else:
        print(json.dumps(doc, indent=2))
    return 0


async def verify(args: argparse.Namespace) -> int:
    async with open_store(args.db) as store:
        report = await verification.check(store)
    problems = report.problems
    if args.json:
        _print_json({"streams": report.streams, "events": report.events, "problems": problems})
    else:
        for p in problems:
            print(f"DAMAGED {p['stream_id']} seq {p['seq']}: {p['problem']}")
        verdict = "damaged" if problems else "ok"
        print(
            f"{verdict}: {report.streams} streams, {report.events} events, {len(problems)} problems"
        )
    return 1 if problems else 0
