"""The price chart's series (static/series.js), built in the browser from the events the real
server gives each receiver (get_events): exact for the buyer (a supplier's new bid replaces its
old one, a raise included); for a supplier its own offer exactly and the best offer from what it
may see, set right by the live view. And the drawing's downsampling keeps every level and spike,
the same whether computed at once or as the series grows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.gateway.conftest import Conn, bid, open_auction

from .conftest import Site

if TYPE_CHECKING:
    from playwright.async_api import Browser

SERIES = """async ([events, me, view]) => {
  const { SeriesBuilder } = await import("/static/series.js");
  const b = new SeriesBuilder(me);
  for (const e of events) b.add(e);
  for (const e of events) b.add(e);  // seen already: skipped
  const values = (s) => s.map((p) => p[1]);
  const before = values(b.product("p1").best);
  if (view) b.observeView(view, Date.parse(events[events.length - 1].at) + 1000);
  return { best: values(b.product("p1").best), mine: values(b.product("p1").mine), before,
    extensions: b.extensions.length, events: b.events,
    live: [...b.product("p1").live.keys()].sort() };
}"""

DOWNSAMPLE = """async () => {
  const { Downsampler, downsample } = await import("/static/series.js");
  const series = [];
  let v = 100000;
  for (let t = 0; t < 50000; t++) {
    v += t % 7 === 0 ? -3 : 1;
    series.push([t, t === 31234 ? 1 : t === 40000 ? null : v]);
  }
  const all = downsample(series, 0, 50000, 500);
  const growing = new Downsampler();
  let last = null;
  for (let n = 1000; n <= series.length; n += 1000) {
    last = growing.points(series.slice(0, n), 0, 50000, 500);
  }
  const values = all.map((p) => p[1]).filter((x) => x !== null);
  return { n: all.length, same: JSON.stringify(last) === JSON.stringify(all),
    min: Math.min(...values), max: Math.max(...values), hasGap: all.some((p) => p[1] === null),
    trueMax: Math.max(...series.map((p) => p[1] ?? 0)), last: all[all.length - 1][0] };
}"""


async def test_series_from_each_receivers_events(site: Site, browser: Browser) -> None:
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s1 = await Conn.open(site.served.url, people.s1.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    buyer = await Conn.open(site.served.url, people.buyer.token)
    context = await browser.new_context(locale="en-GB")
    try:
        auction_id = await open_auction(admin, people, start=site.clock.now(), duration_s=600)
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.50")])
        site.clock.advance(1)
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.25")])
        site.clock.advance(1)
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.75")])  # a raise
        site.clock.advance(1)
        await s1.ok("revoke_bid", auction_id=auction_id, product_id="p1")
        site.clock.advance(1)
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.50")])

        page = await context.new_page()
        await page.goto(site.url)
        as_buyer = (await buyer.ok("get_events", auction_id=auction_id))["events"]
        got: dict[str, Any] = await page.evaluate(SERIES, [as_buyer, None, None])
        assert got["best"] == [250, 225, 250, 275, 250]
        assert got["mine"] == []
        assert got["events"] == len(as_buyer)

        as_s1 = (await s1.ok("get_events", auction_id=auction_id))["events"]
        competitors = [
            e for e in as_s1 if e["type"] == "bid_placed" and "supplier_id" not in e["data"]
        ]
        assert len(competitors) == 2 and all(e["by"] is None for e in competitors)
        view = (await s1.ok("get_view", auction_id=auction_id))["view"]
        got = await page.evaluate(SERIES, [as_s1, people.s1.company_id, view])
        assert got["mine"] == [250, None, 250]
        # S2's raise cannot be told from S1's events (no name on a competitor's bid) ...
        assert got["before"] == [250, 225]
        # ... and the live view sets it right.
        assert got["best"] == [250, 225, 250]
        # ... and drops the bids no longer live, so that later events build on the truth.
        assert got["live"] == sorted(b["bid_id"] for b in view["products"][0]["bids"])

        sampled: dict[str, Any] = await page.evaluate(DOWNSAMPLE)
        assert sampled["n"] <= 500 * 4
        assert sampled["same"], "growing the series gives the same drawing"
        assert sampled["min"] == 1, "a one-point dip is kept"
        assert sampled["max"] == sampled["trueMax"]
        assert sampled["hasGap"], "a gap (no offer) is kept"
        assert sampled["last"] == 49999
    finally:
        await context.close()
        for conn in (admin, s1, s2, buyer):
            await conn.close()
