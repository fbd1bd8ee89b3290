"""The web page at scale (issue 12): headless Chromium (Playwright) against a real ``auctionactors
serve`` (`harness.Server`), each figure min/median/max of ``--runs`` runs.

- ``list``: a store of ``--auctions`` (10k) auctions seeded by `seeding` (1 in 100 open, the rest
  finished), against one of 100 (the same-run baseline). The admin (who sees them all) opens the
  page: the time from navigation to the first auction card in the document, and to the whole
  first screen (every live card and the first page of finished ones, each with its view read);
  then a supplier bids on a live auction and the page applies the update: the time
  ``model.apply`` takes (the patch), and from the update's arrival to the next frame after the
  list is rendered again (what the user waits for).
- ``auction``: an open auction of ``--events`` (100k) events (`seeding.seed_long`) and a fresh
  one of 10 (the same-run baseline): the buyer opens each; the time from navigation to its
  ranking in the document, and an update applied on it, as above.

Times are the page's own (``performance.now()``): MutationObservers note when the elements
appear, a wrapper of ``model.apply`` when an update arrives and is applied, and a
``requestAnimationFrame`` queued after the page's own render notes the frame.

    .venv/bin/python scripts/bench_page.py               # 10k auctions, 100k events, 3 runs
    .venv/bin/python scripts/bench_page.py --quick       # 2k auctions, 20k events, 1 run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import harness
import seeding
from harness import Figures, Server, Wire, workdir

# As tests/browser/conftest.py: Debian's Chromium, headless.
CHROMIUM = os.environ.get("AUCTIONACTORS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-dev-shm-usage"]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 800}
FINISHED_PAGE = 30  # finished.js's page
BASE_LIST = 100  # the same run's baseline list: 1 live auction, 99 finished

# Before the page's scripts: the token (sessionStorage, as after signing in) and observers that
# note when the first card, the whole first screen and an auction's ranking are in the DOM.
LINELESS = '[data-testid="auction-card"]:not(:has([data-testid="card-status-line"]))'
WATCH = """
sessionStorage.setItem("auctionactors.token", %(token)r);
window.__bench = {want: %(want)d};
new MutationObserver(() => {
  const b = window.__bench;
  if (!b.card && document.querySelector('[data-testid="auction-card"]')) b.card = performance.now();
  if (!b.full) {
    const cards = document.querySelectorAll('[data-testid="auction-card"]').length;
    const waiting = document.querySelectorAll('[data-testid="finished-cards"] %(lineless)s').length;
    if (b.want && cards >= b.want && !waiting) b.full = performance.now();
  }
  if (!b.ranking && document.querySelector('[data-testid="ranking"]')) {
    b.ranking = performance.now();
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

# Times the next update of one auction: its apply, and the frame after the page's render.
NEXT_UPDATE = """(auctionId) => new Promise((resolve) => {
  const model = window.auctionPage.model;
  const apply = model.apply;
  model.apply = function (update) {
    const arrived = performance.now();
    const result = apply.call(this, update);
    if (update.auction_id !== auctionId) return result;
    const applied = performance.now();
    model.apply = apply;
    // The page renders in a requestAnimationFrame queued by the change: this one runs after it.
    requestAnimationFrame(() => {
      resolve({apply: applied - arrived, frame: performance.now() - arrived});
    });
    return result;
  };
  window.__bench.armed = true;
})"""


async def open_page(browser: Any, base: str, token: str, path: str, want: int) -> Any:
    # bypass_csp: Playwright evaluates the waits' predicates with eval (the page forbids it)
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB", bypass_csp=True)
    await context.add_init_script(WATCH % {"token": token, "want": want, "lineless": LINELESS})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base + path)
    page.errors = errors
    return page


async def wait_mark(page: Any, mark: str, timeout_s: float = 300.0) -> float:
    handle = await page.wait_for_function(
        f"window.__bench && window.__bench.{mark}", timeout=timeout_s * 1000, polling=50
    )
    return float(await handle.json_value())


async def timed_update(page: Any, wire: Wire, auction_id: str, amount: str) -> dict[str, float]:
    """A supplier's bid on ``auction_id``; the page's times for applying its update."""
    waiting = asyncio.ensure_future(page.evaluate(NEXT_UPDATE, auction_id))
    await page.wait_for_function("window.__bench.armed === true")
    await page.evaluate("window.__bench.armed = false")
    bids = [{"product_id": "p1", "amount": amount}]
    await wire.request("place_bids", auction_id=auction_id, bids=bids)
    times: dict[str, float] = await asyncio.wait_for(waiting, 60)
    return times


async def run_list(
    figs: Figures, browser: Any, server: Server, meta: dict[str, Any], run: int, key: str
) -> None:
    base = f"http://127.0.0.1:{server.port}/"
    n, live = meta["auctions"], len(meta["open"])
    page = await open_page(browser, base, meta["tokens"]["admin"], "#/", live + FINISHED_PAGE)
    try:
        figs.add(f"{key}_card", f"{n} auctions: list, navigation to the first card",
                 await wait_mark(page, "card"), "ms")  # fmt: skip
        first = f"  to {live} live cards and {FINISHED_PAGE} finished with outcomes"
        figs.add(f"{key}_full", first, await wait_mark(page, "full"), "ms")
        wire = await Wire.open(server.url, meta["tokens"]["s1"])
        try:
            times = await timed_update(page, wire, meta["open"][0], f"{400 - run}.00")
        finally:
            await wire.close()
        figs.add(f"{key}_apply", "  a bid's update: model.apply", times["apply"], "ms")
        figs.add(f"{key}_frame", "  a bid's update: arrival to the frame after render",
                 times["frame"], "ms")  # fmt: skip
        cards = await page.locator('[data-testid="auction-card"]').count()
        if cards < live + FINISHED_PAGE or page.errors:
            print(f"  PROBLEM: {cards} cards; page errors: {page.errors}", flush=True)
    finally:
        await page.context.close()


async def run_auction(
    figs: Figures, browser: Any, server: Server, users: dict[str, Any], run: int, events: int
) -> None:
    base = f"http://127.0.0.1:{server.port}/"
    for key, auction_id, label in (("small", seeding.SMALL, "10 events"),
                                   ("long", seeding.LONG, f"{events} events")):  # fmt: skip
        page = await open_page(browser, base, users["buyer"].token, f"#/auction/{auction_id}", 0)
        try:
            figs.add(f"auction_{key}_ranking", f"auction of {label}: navigation to its ranking",
                     await wait_mark(page, "ranking"), "ms")  # fmt: skip
            wire = await Wire.open(server.url, users["s1"].token)
            try:
                times = await timed_update(page, wire, auction_id, f"{300 - run}.00")
            finally:
                await wire.close()
            figs.add(f"auction_{key}_apply", "  a bid's update: model.apply", times["apply"], "ms")
            figs.add(f"auction_{key}_frame", "  a bid's update: arrival to the frame after render",
                     times["frame"], "ms")  # fmt: skip
            if page.errors:
                print(f"  PROBLEM: page errors: {page.errors}", flush=True)
        finally:
            await page.context.close()


async def main_async(args: argparse.Namespace, tmp: Path) -> Figures:
    from playwright.async_api import async_playwright

    figs = Figures()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            figs.section(f"list: {args.auctions} auctions against {BASE_LIST} (1 in 100 open)")
            for key, auctions in (("list_base", BASE_LIST), ("list", args.auctions)):
                db = tmp / f"{key}.db"
                meta = seeding.seeded_copy(db, harness.REPO, harness.PYTHON, auctions, 100)
                server = Server(db, tmp / f"{key}.log", *harness.SERVE_OPTIONS, timeout_s=1800)
                try:
                    for run in range(args.runs):
                        print(f"  run {run + 1}: list of {auctions}", flush=True)
                        await run_list(figs, browser, server, meta, run, key)
                finally:
                    server.stop()
            figs.section(f"auction: {args.events} events against 10 (same run), the buyer")
            db = tmp / "long.db"
            started = time.perf_counter()
            users = await seeding.seed_long(db, args.events)
            print(f"  seeded {args.events} events in {time.perf_counter() - started:.1f} s")
            server = Server(db, tmp / "long.log", *harness.SERVE_OPTIONS, timeout_s=1800)
            try:
                for run in range(args.runs):
                    print(f"  run {run + 1}: auction", flush=True)
                    await run_auction(figs, browser, server, users, run, args.events)
            finally:
                server.stop()
        finally:
            await browser.close()
    figs.ratio("list's first card: large / small", "list_card", "list_base_card")
    figs.ratio("list's first screen: large / small", "list_full", "list_base_full")
    figs.ratio("list's update to frame: large / small", "list_frame", "list_base_frame")
    figs.ratio("first ranking: long / small", "auction_long_ranking", "auction_small_ranking")
    figs.ratio("update to frame: long / small", "auction_long_frame", "auction_small_frame")
    return figs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--auctions", type=int, default=10_000)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--quick", action="store_true", help="2k auctions, 20k events, 1 run")
    args = p.parse_args()
    if args.quick:
        args.runs, args.auctions, args.events = 1, 2000, 20_000
    if not os.access(CHROMIUM, os.X_OK):
        print(f"no Chromium at {CHROMIUM} (run scripts/setup-browser.sh)", file=sys.stderr)
        return 2
    with workdir("bench-page-") as tmp:
        figs = asyncio.run(main_async(args, tmp))
    figs.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
