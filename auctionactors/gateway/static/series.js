// Price series per product, built from the events a receiver may see (get_events, then live
// updates): the best offer and the receiver's own offer over time, and the extensions. Pure: no
// page, no connection. Points are [ms, cents | null] (null: no offer then); a series only gets a
// point when its value changes, so it stays small however many events the auction has.
//
// What a receiver may know limits the series (DOMAIN.md): the buyer's side sees who bid (a name
// or, when bidding is anonymous, a stable alias), so a supplier's new bid replaces its old one
// exactly. A supplier sees its competitors' bids without names: a competitor's new bid cannot be
// tied to the bid it replaced, so competitors' bids are kept until revoked, and the latest
// live view corrects the best offer (`observeView`).

import { parseTime, toCents } from "./format.js";

const BID_EVENTS = new Set(["bid_placed", "auto_bid_placed", "auto_bid_triggered"]);

class ProductSeries {
  constructor() {
    this.live = new Map(); // bid_id -> {cents, own}
    this.bySupplier = new Map(); // supplier key -> bid_id (where the receiver may know it)
    this.best = [];
    this.mine = [];
  }

  push(series, at, value) {
    const last = series[series.length - 1];
    if (last && last[1] === value) return;
    if (last && last[0] === at) {
      last[1] = value;
      if (series.length > 1 && series[series.length - 2][1] === value) series.pop();
      return;
    }
    if (!last && value === null) return;
    series.push([at, value]);
  }

  settle(at) {
    let best = null;
    let mine = null;
    for (const bid of this.live.values()) {
      if (best === null || bid.cents < best) best = bid.cents;
      if (bid.own) mine = bid.cents;
    }
    this.push(this.best, at, best);
    this.push(this.mine, at, mine);
  }
}

export class SeriesBuilder {
  /** `me`: the receiver's company id when it is a supplier (its own offers), else null. */
  constructor(me) {
    this.me = me;
    this.products = new Map();
    this.extensions = [];
    this.start = NaN;
    this.end = NaN;
    this.lastSeq = 0;
    this.events = 0;
  }

  product(productId) {
    let series = this.products.get(productId);
    if (!series) {
      series = new ProductSeries();
      this.products.set(productId, series);
    }
    return series;
  }

  /** One event, in seq order; events already seen are skipped. */
  add(event) {
    if (event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    this.events += 1;
    const at = parseTime(event.at);
    const data = event.data || {};
    if (event.type === "auction_started") this.start = at;
    else if (event.type === "duration_extended") this.extensions.push(at);
    else if (["auction_ended", "auction_canceled", "auction_closed"].includes(event.type)) {
      if (Number.isNaN(this.end)) this.end = at;
    } else if (BID_EVENTS.has(event.type)) this.bid(event, data, at);
    else if (event.type === "bids_revoked") {
      const series = this.product(data.product_id);
      for (const id of data.bid_ids || []) series.live.delete(id);
      const key = this.supplierKey(event, data);
      if (key !== null) series.bySupplier.delete(key);
      series.settle(at);
    }
  }

  supplierKey(event, data) {
    if (this.me !== null) {
      const own = data.supplier_id === this.me || (event.by && event.by.company_id === this.me);
      return own ? this.me : null;
    }
    return data.supplier_id ?? (data.supplier ? data.supplier.id : null);
  }

  bid(event, data, at) {
    const series = this.product(data.product_id);
    const key = this.supplierKey(event, data);
    const own = this.me !== null && key === this.me;
    const replaced = data.replaces ?? (key !== null ? series.bySupplier.get(key) : undefined);
    const cents = toCents(data.amount);
    if (cents === null) return; // an auto-bid without an opening amount: a trigger follows
    if (replaced !== undefined) series.live.delete(replaced);
    series.live.set(data.bid_id, { cents, own });
    if (key !== null) series.bySupplier.set(key, data.bid_id);
    series.settle(at);
  }

  /**
   * The live view as it is now (`at` ms): its ranking is the truth, so the best offer and the
   * receiver's own offer are set from it, and bids no longer in it are dropped (for a supplier
   * this corrects a competitor's raised price, which its events cannot show).
   */
  observeView(view, at) {
    for (const product of view.products || []) {
      const series = this.product(product.product_id);
      const bids = product.bids || [];
      const ids = new Set(bids.map((b) => b.bid_id));
      for (const id of [...series.live.keys()]) if (!ids.has(id)) series.live.delete(id);
      series.push(series.best, at, bids.length ? toCents(bids[0].amount) : null);
      if (this.me !== null) {
        const own = bids.find((b) => b.supplier && b.supplier.id === this.me);
        series.push(series.mine, at, own ? toCents(own.amount) : null);
      }
    }
  }
}

/** Of one column's points, in time order: the first, the lowest, the highest and the last. */
function keep(group) {
  if (group.length <= 4) return group;
  let lo = null;
  let hi = null;
  for (const p of group) {
    if (p[1] === null) continue;
    if (lo === null || p[1] < lo[1]) lo = p;
    if (hi === null || p[1] > hi[1]) hi = p;
  }
  const kept = new Set([group[0], lo, hi, group[group.length - 1]]);
  return group.filter((p) => kept.has(p));
}

function column(t, t0, span, columns) {
  return Math.min(columns - 1, Math.max(0, Math.floor(((t - t0) / span) * columns)));
}

/**
 * A step series cut to at most 4 points per column over [t0, t1]: per column its first, lowest,
 * highest and last value in time order, which keeps every spike and every level.
 */
export function downsample(points, t0, t1, columns) {
  return new Downsampler().points(points, t0, t1, columns);
}

/**
 * `downsample` for a series that grows at its end (live updates): the columns before the last
 * one are kept between calls, so that a new point costs the last column's points, not the whole
 * series. A new time range or column count starts over.
 */
export class Downsampler {
  constructor() {
    this.key = "";
    this.done = []; // the points kept of the finished columns
    this.from = 0; // where the last (unfinished) column starts in the series
    this.col = -1;
  }

  points(series, t0, t1, columns) {
    if (series.length <= columns * 4 || !(t1 > t0)) return series;
    const key = `${t0}|${t1}|${columns}`;
    if (key !== this.key || series.length <= this.from) {
      this.key = key;
      this.done = [];
      this.from = 0;
      this.col = -1;
    }
    const span = t1 - t0;
    let start = this.from;
    let col = this.col;
    for (let i = this.from; i < series.length; i++) {
      const c = column(series[i][0], t0, span, columns);
      if (c === col) continue;
      if (i > start) for (const p of keep(series.slice(start, i))) this.done.push(p);
      start = i;
      col = c;
    }
    this.from = start;
    this.col = col;
    return this.done.concat(keep(series.slice(start)));
  }
}
