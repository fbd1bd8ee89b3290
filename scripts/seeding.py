"""A store of many auctions, made fast: one template per kind of auction (closed, expired,
canceled, open), each made by the domain (`decide` over a short command sequence at fixed times)
and re-keyed for every auction id, written with the store's own `append` in large concurrent
batches (its group commit makes them few transactions), with the catalog row and the final
snapshot when the store takes them. Not through a server: 100k auctions take seconds, not hours.

It runs as a process of the checkout under test (``python scripts/seeding.py --db ...`` with that
checkout's interpreter and ``PYTHONPATH``), so that the database has that checkout's schema and
encoding; `seeded_copy` caches each database under the temporary folder, keyed by its parameters
and that checkout's storage code, and copies it for every run (a server writes to it).

Auction ``i`` is ``a-{i:012x}``; every 100th (``--open-every``) is open, with its deadline
``--open-hours`` after the seeding (a cached database is used for half that time at most).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEMPLATE_ID = "a-zzzzzzzzzzzz"  # as long as every real id: re-keying keeps msgpack lengths
DAY_US = 86_400 * 1_000_000


def auction_id(i: int) -> str:
    return f"a-{i:012x}"


def kind_of(i: int, open_every: int) -> str:
    """Which template auction ``i`` follows: 1 in ``open_every`` open, the rest 6:3:1 closed,
    expired, canceled (``open_every`` 1: every auction open)."""
    if i % open_every == 0:
        return "open"
    return (("closed",) * 6 + ("expired",) * 3 + ("canceled",))[i % 10]


# --- run by the checkout under test -----------------------------------------------------------


async def seed(db: Path, auctions: int, open_every: int, open_hours: float) -> dict[str, Any]:
    """Create the database at ``db``: users, then the auctions. What the benchmark needs to
    know about it (tokens, ids of open auctions, what the store took) as a JSON-able dict."""
    from auctionactors.domain.parties import Caller
    from auctionactors.store.sqlite import SqliteEventStore

    async with await SqliteEventStore.open(db, durable=False) as store:
        users = {
            "admin": await store.add_user("Platform", "admin", "Ada"),
            "buyer": await store.add_user("Aegean Shipping", "buyer", "Bea"),
        }
        for n in range(1, 4):
            users[f"s{n}"] = await store.add_user(f"Supplier {n}", "supplier", f"Sam {n}")
        callers = {k: Caller(u.user_id, u.company_id, _role(k)) for k, u in users.items()}
        now = time.time_ns() // 1000
        templates = {kind: _template(kind, callers, now, open_hours) for kind in KINDS}
        takes = set(inspect.signature(store.append).parameters)
        pending = []
        started = time.perf_counter()
        for i in range(auctions):
            pending.append(_append(store, i, templates[kind_of(i, open_every)], takes))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        took = time.perf_counter() - started
        stats = store.stats
    return {
        "auctions": auctions,
        "open": [auction_id(i) for i in range(auctions) if i % open_every == 0],
        "tokens": {k: u.token for k, u in users.items()},
        "companies": {k: u.company_id for k, u in users.items()},
        "seeded_at": now,
        "open_until": now + int(open_hours * 3600e6),
        "catalog": "catalog" in takes and templates["open"][1] is not None,
        "snapshots": "snapshot" in takes,
        "seconds": round(took, 2),
        "commits": stats.commits,
    }


KINDS = ("closed", "expired", "canceled", "open")
Template = tuple[list[Any], Any, Any]  # encoded events, summary (or None), snapshot (or None)


def _role(key: str) -> str:
    return "supplier" if key.startswith("s") else key


def _template(kind: str, callers: dict[str, Any], now: int, open_hours: float) -> Template:
    """One auction of ``kind`` made by the domain at fixed times, as the store will hold it."""
    from auctionactors.domain.commands import (
        BidRequest,
        CancelAuction,
        CheckDeadlines,
        CreateAuction,
        PlaceBids,
        SelectSolution,
    )
    from auctionactors.domain.decide import decide
    from auctionactors.domain.parties import Party
    from auctionactors.domain.state import evolve
    from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
    from auctionactors.store import codec

    start = now if kind == "open" else now - 30 * DAY_US
    scheduled = start + DAY_US if kind == "canceled" else start  # canceled while pending
    duration_s = int(open_hours * 3600) if kind == "open" else 3600
    suppliers = [callers[f"s{n}"] for n in range(1, 4)]
    terms = AuctionTerms(
        port="Rotterdam",
        buyer=Party(callers["buyer"].company_id, "Aegean Shipping"),
        suppliers=tuple(Party(c.company_id, f"Supplier {n}") for n, c in
                        enumerate(suppliers, start=1)),
        scheduled_start=scheduled,
        duration_s=duration_s,
        products=(ProductSpec(vessel=Vessel("MV Aurora", "9300001"), fuel="VLSFO 0.5%",
                              quantity_mt=1500, eta=start + 2 * DAY_US),),
    )  # fmt: skip
    steps: list[tuple[Any, int]] = [
        (CreateAuction(by=callers["admin"], auction_id=TEMPLATE_ID, terms=terms), start)
    ]
    if kind == "canceled":
        steps.append((CancelAuction(by=callers["buyer"]), start + 1000))
    else:
        steps += [
            (PlaceBids(by=c, bids=(BidRequest(product_id="p1", amount=60_000 - 25 * n),)),
             start + 1_000_000 * (n + 1))
            for n, c in enumerate(suppliers)
        ]  # fmt: skip
    end = start + duration_s * 1_000_000
    if kind == "closed":
        steps.append((CheckDeadlines(), end + 1))
        steps.append((SelectSolution(by=callers["buyer"], solution="best_overall"), end + 2))
    elif kind == "expired":
        steps.append((CheckDeadlines(), end + 1))
        steps.append((CheckDeadlines(), end + DAY_US))
    state: Any = None
    events = []
    for command, at in steps:
        for event in decide(state, command, at):
            state = evolve(state, event)
            events.append(codec.encode_event(event))
    assert kind == "open" or state.is_final, (kind, state.status)
    summary = None
    if hasattr(codec, "encode_summary"):
        from auctionactors.domain.catalog import summarize

        summary = summarize(state)
    snapshot = codec.encode_snapshot(state) if state.is_final else None
    return events, summary, snapshot


async def _append(store: Any, i: int, template: Template, takes: set[str]) -> None:
    import msgspec

    from auctionactors.store import codec

    events, summary, snapshot = template
    aid = auction_id(i)
    old, new = TEMPLATE_ID.encode(), aid.encode()
    extra: dict[str, Any] = {}
    if "catalog" in takes and summary is not None:
        extra["catalog"] = codec.encode_summary(msgspec.structs.replace(summary, auction_id=aid))
    if "snapshot" in takes and snapshot is not None:
        extra["snapshot"] = msgspec.structs.replace(snapshot, data=snapshot.data.replace(old, new))
    rekeyed = [msgspec.structs.replace(e, data=e.data.replace(old, new)) for e in events]
    await store.append(aid, 0, rekeyed, **extra)


# --- one long auction, in this process -------------------------------------------------------

LONG, SMALL = "a-longhistory", "a-smallone"
LONG_PEOPLE: dict[str, tuple[str, Any, str]] = {
    "admin": ("Platform", "admin", "Ada"),
    "buyer": ("Aegean Shipping", "buyer", "Bea"),
    "s1": ("Baltic Bunkers", "supplier", "Sam"),
    "s2": ("North Sea Fuels", "supplier", "Sue"),
}
BATCH = 5000  # events per append


async def _long(store: Any, users: dict[str, Any], auction_id: str, events: int) -> None:
    """An open auction of s1 and s2 on one product with about ``events`` events (their bids in
    turn), written to the store in batches with its final snapshot and catalog row, as its actor
    would have."""
    from auctionactors.domain.commands import BidRequest, CreateAuction, PlaceBids
    from auctionactors.domain.decide import decide
    from auctionactors.domain.parties import Caller, Party
    from auctionactors.domain.state import evolve
    from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
    from auctionactors.store.codec import catalog_entry, encode_event, encode_snapshot

    now = time.time_ns() // 1000
    admin = Caller(users["admin"].user_id, users["admin"].company_id, "admin")
    bidders = [Caller(users[k].user_id, users[k].company_id, "supplier") for k in ("s1", "s2")]
    terms = AuctionTerms(
        port="Rotterdam",
        buyer=Party(users["buyer"].company_id, LONG_PEOPLE["buyer"][0]),
        suppliers=tuple(Party(users[k].company_id, LONG_PEOPLE[k][0]) for k in ("s1", "s2")),
        scheduled_start=now,
        duration_s=30 * 86_400,
        products=(ProductSpec(vessel=Vessel("MV Aurora", "9300001"), fuel="VLSFO 0.5%",
                              quantity_mt=1500, eta=now + 40 * DAY_US),),
    )  # fmt: skip
    pending = decide(None, CreateAuction(by=admin, auction_id=auction_id, terms=terms), now)
    state: Any = None
    for event in pending:
        state = evolve(state, event)
    stored, i = 0, 0
    while True:
        last = state.seq >= events
        if pending and (last or len(pending) >= BATCH):
            await store.append(
                auction_id, stored, [encode_event(e) for e in pending],
                snapshot=encode_snapshot(state) if last else None, catalog=catalog_entry(state),
            )  # fmt: skip
            stored, pending = state.seq, []
        if last:
            return
        bid = BidRequest(product_id="p1", amount=60_000 - (i % 2000) * 25)
        for event in decide(state, PlaceBids(by=bidders[i % 2], bids=(bid,)), now):
            state = evolve(state, event)
            pending.append(event)
        i += 1


async def seed_long(db: Path, events: int) -> dict[str, Any]:
    """A store at ``db`` with `LONG_PEOPLE`, `LONG` (about ``events`` events) and `SMALL` (10
    events: the same auction, fresh), made by this checkout's code; the users by key."""
    from auctionactors.store.sqlite import SqliteEventStore

    async with await SqliteEventStore.open(db, durable=False) as store:
        users = {k: await store.add_user(c, r, n) for k, (c, r, n) in LONG_PEOPLE.items()}
        await _long(store, users, LONG, events)
        await _long(store, users, SMALL, 10)
    return users


# --- run by the benchmark ---------------------------------------------------------------------

CACHE = Path(tempfile.gettempdir()) / "auctionactors-bench-seeds"
# The checkout's files whose changes make a cached database stale.
STORAGE_CODE = ("auctionactors/store/migrations.py", "auctionactors/store/codec.py",
                "auctionactors/domain/events.py", "auctionactors/domain/state.py",
                "auctionactors/domain/catalog.py")  # fmt: skip


def seeded_copy(
    dest: Path, repo: Path, python: str, auctions: int, open_every: int, open_hours: float = 12.0
) -> dict[str, Any]:
    """A copy at ``dest`` of the seeded database for these parameters and ``repo``'s storage
    code (seeded by ``python`` if not cached yet, or if its open auctions are half way to their
    deadline); what `seed` said about it."""
    key = hashlib.sha256(f"{auctions} {open_every} {open_hours}".encode())
    for name in STORAGE_CODE:
        path = repo / name
        key.update(path.read_bytes() if path.exists() else b"-")
    folder = CACHE / key.hexdigest()[:16]
    meta_path = folder / "meta.json"
    meta: dict[str, Any] | None = None
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        half_way = (meta["seeded_at"] + meta["open_until"]) // 2
        if time.time_ns() // 1000 > half_way:
            meta = None
    if meta is None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        env = {**os.environ, "PYTHONPATH": str(repo)}
        argv = [python, __file__, "--db", str(folder / "seed.db"), "--auctions", str(auctions),
                "--open-every", str(open_every), "--open-hours", str(open_hours)]  # fmt: skip
        out = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"seeding failed: {out.stderr[-3000:]}")
        meta_path.write_text(out.stdout)
        meta = json.loads(out.stdout)
        print(f"  seeded {auctions} auctions in {meta['seconds']} s ({meta['commits']} commits; "
              f"catalog rows: {meta['catalog']}) into {folder}", flush=True)  # fmt: skip
    shutil.copyfile(folder / "seed.db", dest)
    return meta


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--auctions", type=int, required=True)
    p.add_argument("--open-every", type=int, default=100)
    p.add_argument("--open-hours", type=float, default=12.0)
    args = p.parse_args()
    if args.db.exists():
        print(f"{args.db} exists", file=sys.stderr)
        return 2
    meta = asyncio.run(seed(args.db, args.auctions, args.open_every, args.open_hours))
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
