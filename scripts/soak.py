"""Soak: a real ``auctionactors serve`` under steady demo-like load for a while, watched for
anything that grows without bound.

    .venv/bin/python scripts/soak.py                       # 10 minutes
    .venv/bin/python scripts/soak.py --minutes 60 --interval 30
    .venv/bin/python scripts/soak.py --minutes 1 --interval 5   # a quick look

The load, all over the wire with `auctionactors.client.Client`: a few auctions live at a time
(each opened by the admin for the buyer, every supplier and an observer invited); one bot per
supplier bidding on them continuously (normal bids and auto-bids, stepping down to a reserve,
sometimes revoking, commenting, RSVPing); when an auction reaches its decision the buyer selects
the best overall solution and a new auction replaces it. Watchers (the buyer, the observer, an
admin, a supplier) follow everything with ``subscribe_all`` and check that each auction's
updates arrive in strictly increasing seq; a churner keeps opening short connections that
subscribe with ``since`` and leave.

Every ``--interval`` seconds it prints the server's resident memory and open file descriptors
and threads (``/proc/PID``), asyncio tasks and connections (``operator_status``) and events
stored (``/metrics``). At the end, for each series: the mean of the middle and of the last third
of the samples and the slope over the last two thirds (per minute), and a verdict: **bounded**
when the last third is not above the middle third beyond a tolerance, **GROWING** otherwise.
Events stored grow with the load by design and are reported, not judged. Exit status 0 when
everything judged is bounded (and ``verify`` finds the store intact), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import PLATFORM, Column, Server, Table, cli_json, report, serve_fresh, workdir

from auctionactors.client import Client, ClientError
from auctionactors.domain.money import format_amount
from auctionactors.store.base import NewUser


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@dataclass
class Live:
    auction_id: str
    products: list[str]


@dataclass
class Load:
    url: str
    users: dict[str, NewUser]
    suppliers: list[str]  # keys of users
    live: dict[str, Live] = field(default_factory=dict)
    created: int = 0
    finished: Counter[str] = field(default_factory=Counter)  # closed / expired
    acks: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    updates: int = 0
    order_errors: int = 0
    churns: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def client(self, who: str) -> Client:
        return Client(self.url, self.users[who].token, request_timeout_s=60)


# --- the load -------------------------------------------------------------------------------


async def create_auction(load: Load, admin: Client, duration_s: int) -> None:
    now = time.time()
    products = [
        {"vessel": {"name": f"MV Soak {i}", "imo": f"93{i:05d}"}, "fuel": fuel,
         "quantity_mt": 500 * (1 + i % 3), "eta": iso(now + 3 * 86_400)}
        for i, fuel in enumerate(("VLSFO 0.5%", "MGO 0.1%", "HSFO 3.5%"))
    ]  # fmt: skip
    auction = {
        "kind": "spot", "port": "Rotterdam", "scheduled_start": iso(now),
        "duration_s": duration_s, "decision_duration_s": 30, "soft_close_s": 5,
        "suppliers": [load.users[s].company_id for s in load.suppliers],
        "products": products,
    }  # fmt: skip
    reply = await admin.request(
        "create_auction", buyer=load.users["buyer"].company_id, auction=auction
    )
    auction_id = str(reply["auction_id"])
    await admin.request(
        "invite_observer", auction_id=auction_id, company_id=load.users["observer"].company_id
    )
    load.live[auction_id] = Live(auction_id, list(reply["product_ids"]))
    load.created += 1


async def updates(load: Load, client: Client) -> AsyncIterator[dict[str, Any]]:
    """The updates ``client`` receives, until the load stops."""
    while not load.stop.is_set():
        try:
            update = await client.next_update(1.0)
        except TimeoutError:
            continue
        if update.get("type") == "update":
            yield update


async def manager(load: Load, auctions: int, duration_s: int) -> None:
    """Keeps ``auctions`` auctions live: decides them as they reach decision, replaces them."""
    admin, buyer = load.client("admin"), load.client("buyer")
    await admin.connect()
    await buyer.connect()
    try:
        await buyer.subscribe_all()
        for i in range(auctions):  # staggered, so that they do not all end together
            await create_auction(load, admin, duration_s + i * duration_s // auctions)
        deciding: set[str] = set()
        async for update in updates(load, buyer):
            aid, status = update["auction_id"], update["view"]["status"]
            if status == "decision" and aid not in deciding:
                deciding.add(aid)
                load.live.pop(aid, None)
                try:
                    await buyer.request("select_solution", auction_id=aid, solution="best_overall")
                except ClientError as exc:
                    load.refusals[f"select_solution {exc.code}"] += 1
            elif status in ("closed", "expired", "canceled") and (
                aid in deciding or status != "closed"
            ):
                deciding.discard(aid)
                load.live.pop(aid, None)
                load.finished[status] += 1
                if not load.stop.is_set():
                    await create_auction(load, admin, duration_s)
    finally:
        await buyer.close()
        await admin.close()


async def bidder(load: Load, who: str, pace_s: float, seed: int) -> None:
    """Bids down on every live auction to a reserve per product; now and then an auto-bid, a
    revoke, a comment or an RSVP."""
    rng = random.Random(seed)
    client = load.client(who)
    await client.connect()
    price: dict[tuple[str, str], int] = {}
    reserve: dict[tuple[str, str], int] = {}
    try:
        while not load.stop.is_set():
            await asyncio.sleep(rng.uniform(0.5, 1.5) * pace_s)
            live = list(load.live.values())
            if not live:
                continue
            auction = rng.choice(live)
            product = rng.choice(auction.products)
            key = (auction.auction_id, product)
            if key not in price:
                price[key] = rng.randrange(2200, 2600) * 25
                reserve[key] = price[key] - rng.randrange(8, 40) * 25
            roll = rng.random()
            try:
                if roll < 0.03:
                    await client.request(
                        "revoke_bid", auction_id=auction.auction_id, product_id=product
                    )
                    load.acks["revoke_bid"] += 1
                elif roll < 0.05:
                    await client.request(
                        "post_comment", auction_id=auction.auction_id, text=f"note {rng.random()}"
                    )
                    load.acks["post_comment"] += 1
                elif roll < 0.06:
                    await client.request(
                        "rsvp", auction_id=auction.auction_id, response=rng.choice(["yes", "maybe"])
                    )
                    load.acks["rsvp"] += 1
                elif price[key] > reserve[key]:
                    price[key] = max(reserve[key], price[key] - rng.randrange(1, 8) * 25)
                    bid: dict[str, Any] = {
                        "product_id": product,
                        "amount": format_amount(price[key]),
                    }
                    if roll < 0.15:
                        bid["min_amount"] = format_amount(reserve[key])
                    await client.request("place_bids", auction_id=auction.auction_id, bids=[bid])
                    load.acks["place_bids"] += 1
            except ClientError as exc:
                load.refusals[exc.code] += 1  # too_late, wrong_status around the deadlines
    finally:
        await client.close()


async def watcher(load: Load, who: str) -> None:
    """Follows every auction it may see; each auction's seqs must strictly increase."""
    client = load.client(who)
    await client.connect()
    last: dict[str, int] = {}
    try:
        await client.subscribe_all()
        async for update in updates(load, client):
            load.updates += 1
            aid, seq = update["auction_id"], update["seq"]
            seqs = [e["seq"] for e in update["events"]]
            if seq <= last.get(aid, 0) or seqs != list(range(seq - len(seqs) + 1, seq + 1)):
                load.order_errors += 1
            last[aid] = seq
    finally:
        await client.close()


async def churner(load: Load, who: str, pace_s: float) -> None:
    """Short connections: connect, resume one auction from seq 1, read its update, leave."""
    rng = random.Random(7)
    while not load.stop.is_set():
        await asyncio.sleep(pace_s)
        live = list(load.live)
        if not live:
            continue
        client = load.client(who)
        try:
            await client.connect()
            await client.subscribe(rng.choice(live), since=1)
            await client.next_update(10)
            load.churns += 1
        except (ClientError, TimeoutError) as exc:
            load.refusals[f"churn {getattr(exc, 'code', 'timeout')}"] += 1
        finally:
            await client.close()


# --- watching the server --------------------------------------------------------------------

SERIES = ("rss_mb", "fds", "threads", "tasks", "connections", "events")
# Judged series: (relative, absolute) growth tolerated from the middle third to the last third.
TOLERANCE = {"rss_mb": (0.05, 4.0), "fds": (0.0, 3), "threads": (0.0, 1), "tasks": (0.10, 5),
             "connections": (0.0, 2)}  # fmt: skip
SAMPLED = ("t_min", "rss_mb", "fds", "threads", "tasks", "connections", "events")
SAMPLES = Table(
    Column("min", 6, ".1f"), Column("rss MiB", 8, ".1f"), Column("fds", 5, ".0f"),
    Column("thr", 4, ".0f"), Column("tasks", 6, ".0f"), Column("conns", 6, ".0f"),
    Column("events", 8, ".0f"), Column("auctions", 9), Column("acks", 7), Column("updates", 8),
    Column("churns", 6),
)  # fmt: skip
SERIES_TABLE = Table(
    Column("series", 12, left=True), *(Column(t, 9, ".1f") for t in ("first", "middle", "last")),
    Column("max", 9, ".1f"), Column("slope/min", 10, ".3f"), Column("verdict", 0, lead=" "),
)  # fmt: skip


def events_stored(server: Server) -> int:
    stored = server.metric("auctionactors_store_events_total")
    return -1 if stored is None else int(stored)


async def sample(server: Server, admin: Client, t0: float) -> dict[str, float]:
    status = await admin.request("operator_status")
    events = await asyncio.to_thread(events_stored, server)
    return {
        "t_min": (time.monotonic() - t0) / 60,
        "rss_mb": server.rss_mb(),
        "fds": server.fds(),
        "threads": server.threads(),
        "tasks": status.get("tasks", -1),
        "connections": status["connections"],
        "events": events,
    }


def thirds(values: list[float]) -> tuple[list[float], list[float]]:
    n = len(values)
    return values[n // 3 : 2 * n // 3], values[2 * n // 3 :]


def slope(ts: list[float], values: list[float]) -> float:
    if len(ts) < 2 or len(set(ts)) < 2:
        return 0.0
    return statistics.linear_regression(ts, values).slope


def verdict(samples: list[dict[str, float]]) -> tuple[dict[str, dict[str, Any]], bool]:
    report: dict[str, dict[str, Any]] = {}
    bounded = True
    ts = [s["t_min"] for s in samples]
    for name in SERIES:
        values = [s[name] for s in samples]
        middle, last = thirds(values)
        if not middle or not last:
            continue
        m, la = statistics.fmean(middle), statistics.fmean(last)
        tail = len(values) // 3
        row: dict[str, Any] = {
            "first": values[0], "middle_mean": round(m, 2), "last_mean": round(la, 2),
            "max": max(values), "slope_per_min": round(slope(ts[tail:], values[tail:]), 3),
        }  # fmt: skip
        if name in TOLERANCE:
            rel, absolute = TOLERANCE[name]
            ok = la <= m * (1 + rel) + absolute
            row["verdict"] = "bounded" if ok else "GROWING"
            bounded &= ok
        else:
            row["verdict"] = "grows with the load (not judged)"
        report[name] = row
    return report, bounded


async def soak(args: argparse.Namespace, server: Server, users: dict[str, NewUser]) -> Any:
    suppliers = [k for k in users if k.startswith("s")]
    load = Load(server.url, users, suppliers)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(manager(load, args.auctions, args.auction_s))]
    tasks += [loop.create_task(bidder(load, s, args.pace, i)) for i, s in enumerate(suppliers)]
    for who in ("buyer", "observer", "admin", suppliers[0])[: args.watchers]:
        tasks.append(loop.create_task(watcher(load, who)))
    tasks.append(loop.create_task(churner(load, "observer", args.churn)))
    admin = load.client("admin")
    await admin.connect()
    t0 = time.monotonic()
    samples: list[dict[str, float]] = []
    end = t0 + args.minutes * 60
    print(SAMPLES.head(), flush=True)
    try:
        while time.monotonic() < end:
            await asyncio.sleep(min(args.interval, max(0.0, end - time.monotonic())))
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise RuntimeError(f"a load task failed: {task.exception()!r}")
            s = await sample(server, admin, t0)
            samples.append(s)
            auctions = f"{len(load.live):>3}/{load.created:<5}"
            print(SAMPLES.row(*(s[k] for k in SAMPLED), auctions, sum(load.acks.values()),
                              load.updates, load.churns), flush=True)  # fmt: skip
    finally:
        load.stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(3)  # the connections closing
    quiet = await sample(server, admin, t0)
    await admin.close()
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    return load, samples, quiet, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--auctions", type=int, default=4, help="auctions live at a time")
    parser.add_argument("--auction-s", type=int, default=60, help="bidding time of each")
    parser.add_argument("--suppliers", type=int, default=6)
    parser.add_argument("--watchers", type=int, default=4)
    parser.add_argument("--pace", type=float, default=0.3, help="seconds between a bot's bids")
    parser.add_argument("--churn", type=float, default=0.5, help="seconds between short visits")
    parser.add_argument("--json", action="store_true", help="a JSON summary as the last line")
    args = parser.parse_args()
    with workdir("soak-") as tmp:
        return run(args, tmp)


def run(args: argparse.Namespace, tmp: Path) -> int:
    people = {**PLATFORM, "observer": ("Port Watch", "observer", "Olga")}
    people |= {f"s{i}": (f"Supplier {i}", "supplier", f"Sam {i}") for i in range(args.suppliers)}
    server, users = serve_fresh(tmp, people)
    print(f"soak: server pid {server.pid} on {server.url}; {args.minutes:g} min, "
          f"{args.auctions} auctions live, {args.suppliers} bidders, {args.watchers} watchers",
          flush=True)  # fmt: skip
    try:
        load, samples, quiet, failures = asyncio.run(soak(args, server, users))
        alive = server.alive
    finally:
        exit_status = server.stop()
    verify = cli_json("verify", "--db", str(server.db))
    series, bounded = verdict(samples)
    trouble = server.trouble()
    print(f"\nafter the load (3 s quiet): rss {quiet['rss_mb']:.1f} MiB, fds {quiet['fds']:.0f}, "
          f"threads {quiet['threads']:.0f}, tasks {quiet['tasks']:.0f}, "
          f"connections {quiet['connections']:.0f}")  # fmt: skip
    print(f"auctions created {load.created}, finished {dict(load.finished)}; acks "
          f"{dict(load.acks)}; refusals {dict(load.refusals)}")  # fmt: skip
    print(f"updates watched {load.updates}, out of order {load.order_errors}; short visits "
          f"{load.churns}; verify: {verify['streams']} streams, {verify['events']} events, "
          f"{len(verify['problems'])} problems")  # fmt: skip
    print(f"\n{SERIES_TABLE.head()}")
    for name, row in series.items():
        print(SERIES_TABLE.row(name, *(row[k] for k in ("first", "middle_mean", "last_mean", "max",
                                                        "slope_per_min", "verdict"))))  # fmt: skip
    checks = {
        "server alive to the end": alive,
        "stops cleanly (exit 0)": exit_status == 0,
        "every judged series bounded": bounded,
        "updates in order": load.order_errors == 0,
        "verify: store intact": not verify["problems"],
        "no traceback in the server log": not trouble,
        "load tasks ended cleanly": not failures,
        "connections back to the checker's only": quiet["connections"] <= 1,
    }
    summary = {"samples": samples, "quiet": quiet, "report": series, "checks": checks}
    return report(checks, trouble[:10] + failures[:10], summary if args.json else None)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
