"""The page's price chart (``static/chart.js``) on a 100k-event auction, in headless Chromium:
reading the history (100 pages of ``get_events``, each parsed from JSON as the connection would),
the first drawing, and applying one live update (one new bid, redrawn), against a 1k-event
auction. The page's files are served from the package by Playwright's router (no server: the
events come from a stand-in connection that answers ``get_events`` pages from memory), so the
figures are the page's own work. Baseline in the same run: parsing the same pages' JSON, which
the page must do anyway to receive them.

    .venv/bin/python scripts/bench_chart.py [--events 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import harness
from harness import Figures

STATIC = harness.REPO / "auctionactors" / "gateway" / "static"
ORIGIN = "http://bench.invalid"
CHROMIUM = os.environ.get("AUCTIONACTORS_CHROMIUM", "/usr/bin/chromium")

MEASURE = (harness.REPO / "scripts" / "bench_chart.js").read_text(encoding="utf-8")

FIGURES = (
    ("parse", "JSON.parse of the pages (baseline)", "ms"),
    ("load", "read into the series and first drawing", "ms"),
    ("painted", "... until painted", "ms"),
    ("update", "one live update, redrawn (median of 20)", "ms"),
    ("points", "points in the longest path drawn", ""),
)


def measure(n: int) -> dict[str, Any]:
    from playwright.sync_api import Route, sync_playwright

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body="<!doctype html><title>bench</title>", content_type="text/html")
            return
        file = STATIC / Path(path.removeprefix("/static/")).name
        route.fulfill(body=file.read_bytes(), content_type="text/javascript")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route(f"{ORIGIN}/**", serve)
            page.goto(f"{ORIGIN}/")
            page.evaluate(MEASURE, [200])  # warm-up: the modules compiled, the fonts laid out
            result: dict[str, Any] = page.evaluate(MEASURE, [n])
            return result
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figs = Figures()
    for run in range(args.runs):
        print(f"  run {run + 1}", flush=True)
        for n, tag in ((args.small, "small"), (args.events, "big")):
            r = measure(n)
            if r["events"] != n:
                print(f"  PROBLEM: the chart read {r['events']} events of {n}", flush=True)
            for key, name, unit in FIGURES:
                figs.add(f"{tag}_{key}", f"{n} events: {name}", r[key], unit)
    figs.ratio("big: reading and drawing / parsing the pages", "big_load", "big_parse")
    figs.ratio(
        f"one update: {args.events} events / {args.small} events", "big_update", "small_update"
    )
    figs.print()


if __name__ == "__main__":
    main()
