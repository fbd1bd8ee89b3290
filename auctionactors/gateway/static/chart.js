// The price chart per product: the best offer and the viewer's own offer over time, the soft-close
// extensions marked. Inline SVG, no library. The series come from the events the viewer may see
// (get_events, paged, read once in the background) and then from live updates (series.js); the
// drawing is cut to a few points per pixel column, so a 100k-event auction draws as fast as a
// small one.

import { clearError, errorLine, fill, h, section, showError } from "./dom.js";
import { centsToWire, money, parseTime, productLabel, time } from "./format.js";
import { readEvents } from "./eventlog.js";
import { Downsampler, SeriesBuilder } from "./series.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDE = 640; // the drawing's width where the figure's own width is not known yet
const H = 180;
const PAD = { left: 64, right: 10, top: 10, bottom: 24 };

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

export class PriceCharts {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    const role = ctx.model.me.company.role;
    this.mine = role === "supplier";
    this.builder = new SeriesBuilder(this.mine ? ctx.model.me.company.id : null);
    this.loading = null;
    this.loaded = false;
    this.body = h("div", { class: "charts" });
    this.note = h("p", { class: "muted chart-note" }, "Loading the price history…");
    this.error = errorLine("chart-error");
    this.el = section("Price history", this.note, this.error, this.body);
    this.el.dataset.testid = "price-charts";
    this.figures = new Map();
    this.samplers = new Map(); // product id -> {best, mine}: Downsamplers kept between drawings
    // Each figure's width, measured when it changes (never by reading layout while drawing).
    this.widths = new Map();
    this.resized = typeof ResizeObserver === "function" ? new ResizeObserver((entries) => {
      let changed = false;
      for (const entry of entries) {
        const width = Math.round(entry.contentRect.width);
        const pid = entry.target.dataset.product;
        if (width > 0 && this.widths.get(pid) !== width) {
          this.widths.set(pid, width);
          changed = true;
        }
      }
      if (changed && this.loaded) this.update();
    }) : null;
  }

  /** Read the history once (in the background); live updates keep it current afterwards. */
  load() {
    if (this.loading) return this.loading;
    this.loading = this.catchUp().then(() => {
      if (this.stopped) return;
      clearError(this.error);
      this.loaded = true;
      this.update();
    }, (err) => {
      this.loading = null;
      showError(this.error, err);
    });
    return this.loading;
  }

  async catchUp() {
    await readEvents(this.ctx.conn, this.auctionId, this.builder.lastSeq, (e) => this.builder.add(e),
      () => !this.stopped);
  }

  /** The screen is gone: stop reading and watching sizes. */
  stop() {
    this.stopped = true;
    if (this.resized) this.resized.disconnect();
  }

  /** Called on every render of the screen: take the live events, redraw. */
  update() {
    const auction = this.ctx.model.get(this.auctionId);
    if (this.stopped || !auction || !auction.view) return;
    if (!this.loaded) {
      this.load();
      return;
    }
    const fresh = auction.events.filter((e) => e.seq > this.builder.lastSeq);
    if (fresh.length && fresh[0].seq > this.builder.lastSeq + 1) {
      // More events came than the page keeps while the history was read: read the rest.
      this.loaded = false;
      this.loading = null;
      this.load();
      return;
    }
    for (const event of fresh) this.builder.add(event);
    const now = this.ctx.model.clock.now();
    const lastAt = fresh.length ? parseTime(fresh[fresh.length - 1].at) : now;
    if (auction.seq >= this.builder.lastSeq) this.builder.observeView(auction.view, Math.min(now, lastAt) || now);
    this.draw(auction.view, now);
  }

  draw(view, now) {
    const b = this.builder;
    const events = b.events;
    this.note.textContent = `From ${events.toLocaleString()} events` +
      (b.extensions.length ? `; ${b.extensions.length} extension${b.extensions.length > 1 ? "s" : ""} (dotted lines)` : "");
    const key = view.products.map((p) => p.product_id).join(",");
    if (key !== this.key) {
      this.key = key;
      this.figures.clear();
      fill(this.body);
    }
    for (const product of view.products) {
      let figure = this.figures.get(product.product_id);
      if (!figure) {
        figure = h("figure", { class: "chart", "data-testid": `chart-${product.product_id}`, "data-product": product.product_id });
        this.figures.set(product.product_id, figure);
        this.body.append(figure);
        if (this.resized) this.resized.observe(figure);
      }
      const series = b.products.get(product.product_id) || { best: [], mine: [] };
      // Drawn at the figure's own width, so that its text keeps its size on a phone.
      const width = Math.max(280, Math.min(1200, this.widths.get(product.product_id) || WIDE));
      fill(figure, this.figure(product, series, view, now, width));
    }
  }

  figure(product, series, view, now, W) {
    const b = this.builder;
    const first = [series.best[0], series.mine[0]].filter(Boolean).map((p) => p[0]);
    const t0 = Number.isNaN(b.start) ? Math.min(...first, now) : b.start;
    // While bidding is open the time axis runs to the close (it moves only when extended), so
    // that the columns already drawn stay as they are; the lines end at now.
    const open = view.status === "open";
    const closes = parseTime(view.closes_at);
    let t1 = open ? Math.max(now, Number.isNaN(closes) ? now : closes) : (Number.isNaN(b.end) ? now : b.end);
    if (!(t1 > t0)) t1 = t0 + 1000;
    const tEnd = open ? Math.min(now, t1) : t1;
    const cols = W - PAD.left - PAD.right;
    let samplers = this.samplers.get(product.product_id);
    if (!samplers) {
      samplers = { best: new Downsampler(), mine: new Downsampler() };
      this.samplers.set(product.product_id, samplers);
    }
    const best = samplers.best.points(series.best, t0, t1, cols);
    const mine = samplers.mine.points(series.mine, t0, t1, cols);
    const values = [...best, ...mine].map((p) => p[1]).filter((v) => v !== null);
    const label = productLabel(product);
    const caption = h("figcaption", {}, label);
    if (!values.length) {
      return [caption, h("p", { class: "muted empty" }, "No offers yet.")];
    }
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (hi === lo) {
      lo -= 100;
      hi += 100;
    }
    const x = (t) => PAD.left + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * cols;
    const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
    const path = (points) => {
      let d = "";
      let prev = null;
      for (const [t, v] of points) {
        if (v === null) {
          if (prev !== null) d += ` H${x(t).toFixed(1)}`;
          prev = null;
          continue;
        }
        d += prev === null ? ` M${x(t).toFixed(1)},${y(v).toFixed(1)}` : ` H${x(t).toFixed(1)} V${y(v).toFixed(1)}`;
        prev = v;
      }
      if (prev !== null) d += ` H${x(tEnd).toFixed(1)}`;
      return d.trim();
    };
    const lastBest = series.best.length ? series.best[series.best.length - 1][1] : null;
    const lastMine = series.mine.length ? series.mine[series.mine.length - 1][1] : null;
    const summary = `${label}: best offer ${lastBest === null ? "none" : money(centsToWire(lastBest))}` +
      (this.mine ? `, your offer ${lastMine === null ? "none" : money(centsToWire(lastMine))}` : "") +
      `, ${b.extensions.length} extension${b.extensions.length === 1 ? "" : "s"}, from ${time(new Date(t0).toISOString())}` +
      ` to ${time(new Date(t1).toISOString())}.`;
    const id = `chart-${this.auctionId}-${product.product_id}`.replace(/[^A-Za-z0-9_-]/g, "_");
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img", "aria-labelledby": `${id}-t` },
      s("title", { id: `${id}-t` }, summary),
      s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(lo), y2: y(lo), class: "axis" }),
      s("text", { x: PAD.left - 6, y: y(hi) + 4, class: "tick-label", "text-anchor": "end" }, money(centsToWire(hi))),
      s("text", { x: PAD.left - 6, y: y(lo) + 4, class: "tick-label", "text-anchor": "end" }, money(centsToWire(lo))),
      s("text", { x: PAD.left, y: H - 6, class: "tick-label" }, time(new Date(t0).toISOString())),
      s("text", { x: W - PAD.right, y: H - 6, class: "tick-label", "text-anchor": "end" }, time(new Date(t1).toISOString())),
      b.extensions.filter((t) => t >= t0 && t <= t1).map((t) =>
        s("line", { x1: x(t), x2: x(t), y1: PAD.top, y2: H - PAD.bottom, class: "extension", "data-testid": "extension-mark" })),
      s("path", { d: path(best), class: "line best", "data-testid": "best-line" }),
      this.mine ? s("path", { d: path(mine), class: "line mine", "data-testid": "mine-line" }) : null,
      // Where each line stands now, visible even when it has just begun.
      lastBest === null ? null : s("circle", { cx: x(tEnd), cy: y(lastBest), r: 4, class: "dot best" }),
      this.mine && lastMine !== null ? s("circle", { cx: x(tEnd), cy: y(lastMine), r: 3, class: "dot mine" }) : null);
    const legend = h("p", { class: "chart-legend" },
      h("span", { class: "key best" }, "Best offer"), " ",
      this.mine && series.mine.length ? h("span", { class: "key mine" }, "Your offer") : null, " ",
      b.extensions.length ? h("span", { class: "key extension" }, "Extension") : null);
    return [caption, svg, legend];
  }
}
