"""Notification figures (issue 13): mails per second to a local SMTP server, the reactors' lag
under bench_store's 100-auction bid load, and what the reactors cost that load's throughput.

Run ``.venv/bin/python scripts/bench_reactor.py`` (a few minutes) or with ``--quick``. The
runtime and the reactors run in this process on real SQLite files (as bench_store's actors
section does); the receivers (an aiosmtpd SMTP server and an aiohttp webhook receiver, the
tests' own) run in a child process, so that their work is not counted as the reactors'. Each
figure is measured ``--runs`` times (min/median/max); the bid rate with reactors is measured in
the same run as the one without, alternately.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import msgspec
from bench_store import ADMIN, SUPPLIERS, bench_terms, bid_client
from harness import REPO, Child, Figures, fast_run, workdir

sys.path.insert(0, str(REPO))  # the tests' receivers, run in a child process (spawned)
from auctionactors.domain.parties import Party
from auctionactors.runtime.clock import SystemClock
from auctionactors.runtime.mailer import MailPlanner, SmtpSender
from auctionactors.runtime.reactor import Reactor
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.runtime.webhooks import WebhookPlanner, WebhookSender
from auctionactors.store.sqlite import SqliteEventStore
from tests.receivers import child_main

PAGE = "http://127.0.0.1:8765/"
FROM = "auctions@bench.example"


async def mail_rate(folder: Path, run: int, child: Child, auctions: int, users: int) -> float:
    """Mails per second, end to end: ``auctions`` pending auctions invite 3 suppliers with
    ``users`` users each; the mail reactor plans (rebuild, views, recipients) and sends them."""
    address, _, _ = await child.call("where")
    host, port = address.split(":")
    async with await SqliteEventStore.open(folder / f"mail-{run}.db") as store:
        companies = []
        for s in SUPPLIERS:
            for u in range(users):
                new = await store.add_user(s.company_id, "supplier", f"u{u}", f"u{u}@{s.user_id}.x")
            companies.append(Party(new.company_id, s.company_id))
        reactor = Reactor(
            "mail", store, MailPlanner(store, PAGE, FROM), SmtpSender(host, int(port), FROM),
            SystemClock(),
        )  # fmt: skip
        await reactor.step()
        supervisor = Supervisor(store, SystemClock())
        await supervisor.start()
        now = SystemClock().now()
        terms = bench_terms(now + 86_400 * 1_000_000)
        terms = msgspec.structs.replace(terms, suppliers=tuple(companies))
        for _ in range(auctions):
            await supervisor.create_auction(ADMIN, terms)
        await supervisor.stop()
        start = time.perf_counter()
        while await reactor.step():
            pass
        took = time.perf_counter() - start
        await reactor.stop()
        sent = reactor.stats.delivered
        assert sent == auctions * len(SUPPLIERS) * users, sent
    return sent / took


async def bid_load(
    folder: Path, name: str, child: Child | None, auctions: int, bids: int
) -> tuple[float, list[int], float]:
    """bench_store's actors load (``auctions`` auctions, one client each sending ``bids`` bids
    one after another), with a webhook and a mail reactor following it when ``child`` is given.
    Returns bids per second, the webhook reactor's lag sampled every 50 ms (events behind) and
    the seconds it took to catch up after the load."""
    async with await SqliteEventStore.open(folder / f"{name}.db") as store:
        reactors: list[Reactor] = []
        if child is not None:
            address, url, secret = await child.call("where")
            host, port = address.split(":")
            clock = SystemClock()
            reactors = [
                Reactor(f"webhook {url}", store, WebhookPlanner(url),
                        WebhookSender(url, secret), clock),
                Reactor("mail", store, MailPlanner(store, PAGE, FROM),
                        SmtpSender(host, int(port), FROM), clock),
            ]  # fmt: skip
            for r in reactors:
                await r.start()
        supervisor = Supervisor(store, SystemClock())
        await supervisor.start()
        now = SystemClock().now()
        ids = [
            (await supervisor.create_auction(ADMIN, bench_terms(now))).fields["auction_id"]
            for _ in range(auctions)
        ]
        lags: list[int] = []
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                head = await store.head_position()
                lags.append(head - (reactors[0].position or 0))
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample()) if reactors else None
        start = time.perf_counter()
        await asyncio.gather(*(bid_client(supervisor, a, bids, []) for a in ids))
        rate = auctions * bids / (time.perf_counter() - start)
        done.set()
        caught_up = time.perf_counter()
        if sampler is not None:
            await sampler
            head = await store.head_position()
            while any((r.position or 0) < head for r in reactors):  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # (their own tasks; sampled, not awaited)
        catch_up = time.perf_counter() - caught_up
        for r in reactors:
            await r.stop()
        await supervisor.stop()
    return rate, lags, catch_up


async def one_run(folder: Path, run: int, figures: Figures, cfg: argparse.Namespace) -> None:
    child = Child(child_main)
    try:
        figures.add(
            "mails", "mails per second (plan + SMTP + record)",
            await mail_rate(folder, run, child, cfg.mail_auctions, cfg.users), "mail/s",
        )  # fmt: skip
        # alternately first, so that neither always has the warmer machine
        for with_reactors in (run % 2 == 1, run % 2 == 0):
            if with_reactors:
                with_r, lags, catch_up = await bid_load(
                    folder, f"reactors-{run}", child, cfg.auctions, cfg.bids
                )
            else:
                bare, _, _ = await bid_load(folder, f"bare-{run}", None, cfg.auctions, cfg.bids)
        figures.add("bare", f"bids/s, {cfg.auctions} auctions, no reactors", bare, "bids/s")
        figures.add("with", f"bids/s, {cfg.auctions} auctions, webhook + mail", with_r, "bids/s")
        figures.add("lag50", "webhook reactor lag during the load, median", _median(lags), "events")
        figures.add("lagmax", "webhook reactor lag during the load, max", max(lags), "events")
        figures.add("catchup", "catch-up after the load", catch_up * 1000, "ms")
        mails, hooks = await child.call("counts")
        print(f"    (the receivers got {mails} mails and {hooks} webhooks so far)")
    finally:
        child.stop()


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[len(ordered) // 2]) if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bids", type=int, default=None, help="bids per auction (60; 10 quick)")
    args = parser.parse_args(argv)
    args.auctions = 100
    args.bids = args.bids or (10 if args.quick else 60)
    args.mail_auctions = 5 if args.quick else 20
    args.users = 4 if args.quick else 10
    figures = Figures()
    figures.section("notifications")
    with workdir("bench-reactor-") as folder:
        for run in range(args.runs):
            print(f"  run {run + 1} of {args.runs}", flush=True)
            fast_run(one_run(folder, run, figures, args))
    figures.ratio("bids/s with reactors / without (same run)", "with", "bare")
    figures.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
