// A supplier's own bids, from the events (protocol 2 views carry no bid history): read once
// with `get_events` (paged), then kept up to date from the pushed updates. They give the
// "Your bids" panel (newest first, a page at a time) and, while the auction is pending (when the
// view ranks no bid yet), the supplier's own live bid per product.

import { readEvents } from "./eventlog.js";
import { errorLine, fill, h, section, showError } from "./dom.js";
import { money, productLabel, time } from "./format.js";

const ROWS = 10; // rows per page of the panel
const AUTO_LOAD_SEQ = 5000; // a longer log is read when asked (a button), not on every visit
const PLACED = new Set(["bid_placed", "auto_bid_placed"]);

export class OwnBids {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    this.read = new Map(); // seq -> one of its own bid events, from get_events
    this.loaded = false;
    this.page = 0;
    this.error = errorLine("history-error");
    this.body = h("div", { "data-testid": "own-history" });
    this.el = section("Your bids", this.body, this.error);
    this.started = false;
  }

  async load() {
    if (this.started) return;
    this.started = true;
    try {
      await readEvents(this.ctx.conn, this.auctionId, 0, (e) => {
        if (this.isOwn(e)) this.read.set(e.seq, e);
      });
      this.loaded = true;
      this.ctx.model.dispatchEvent(new CustomEvent("change", { detail: { auctionId: this.auctionId } }));
    } catch (err) {
      if (err.code === "offline") this.started = false; // read again on a later update
      else showError(this.error, err);
    }
  }

  /** Whether an event is one of this supplier's bid events (placed, auto-moved, revoked). */
  isOwn(e) {
    return Boolean(e.data && e.data.supplier_id === this.ctx.model.me.company.id &&
      (PLACED.has(e.type) || e.type === "auto_bid_triggered" || e.type === "bids_revoked"));
  }

  /** This supplier's bid events, oldest first. */
  events(auction) {
    const all = new Map(this.read);
    for (const e of auction.events) if (this.isOwn(e)) all.set(e.seq, e);
    return [...all.values()].sort((a, b) => a.seq - b.seq);
  }

  /** product_id -> the supplier's live bid as its events tell (`{bid_id, amount, ...}`). */
  live(auction) {
    const live = new Map();
    for (const e of this.events(auction)) {
      const d = e.data;
      if (PLACED.has(e.type)) live.set(d.product_id, { ...d, is_auto: d.is_auto || e.type === "auto_bid_placed" });
      else if (e.type === "auto_bid_triggered" && live.has(d.product_id)) {
        live.set(d.product_id, { ...live.get(d.product_id), bid_id: d.bid_id, amount: d.amount });
      } else if (e.type === "bids_revoked") live.delete(d.product_id);
    }
    return live;
  }

  render(auction) {
    // While pending the log is short, and the card needs the supplier's own pending bids.
    if (!this.started && (auction.view.status === "pending" || auction.view.seq <= AUTO_LOAD_SEQ)) this.load();
    if (!this.started) {
      fill(this.body, h("button", { type: "button", class: "btn", "data-testid": "load-own-history",
        onclick: () => this.load().then(() => this.render(this.ctx.model.get(this.auctionId))) },
      `Load your bids (${auction.view.seq.toLocaleString()} events to read)`));
      return;
    }
    if (!this.loaded) {
      fill(this.body, h("p", { class: "muted" }, "Loading your bids…"));
      return;
    }
    const products = new Map(auction.view.products.map((p) => [p.product_id, p]));
    const rows = this.events(auction).reverse();
    const pages = Math.max(1, Math.ceil(rows.length / ROWS));
    this.page = Math.min(this.page, pages - 1);
    const shown = rows.slice(this.page * ROWS, (this.page + 1) * ROWS);
    if (!rows.length) {
      fill(this.body, h("p", { class: "muted" }, "You have not bid yet."));
      return;
    }
    const go = (page) => () => {
      this.page = page;
      this.render(this.ctx.model.get(this.auctionId));
    };
    fill(this.body,
      h("table", { class: "own-history" },
        h("thead", {}, h("tr", {}, h("th", { class: "at" }, "At"), h("th", {}, "Product"),
          h("th", {}, "What"), h("th", { class: "num" }, "USD/MT"))),
        h("tbody", {}, shown.map((e) => h("tr", { "data-seq": e.seq },
          h("td", { class: "at" }, time(e.at)),
          h("td", {}, productLabel(products.get(e.data.product_id))),
          h("td", {}, whatText(e)),
          h("td", { class: "num" }, e.type === "bids_revoked" ? "–" : money(e.data.amount)))))),
      pages > 1 ? h("div", { class: "pager" },
        h("button", { type: "button", class: "btn small ghost", disabled: this.page === 0, onclick: go(this.page - 1) }, "Newer"),
        h("span", { class: "muted" }, `page ${this.page + 1} of ${pages}`),
        h("button", { type: "button", class: "btn small ghost", disabled: this.page >= pages - 1, onclick: go(this.page + 1) }, "Older"))
        : null);
  }
}

function whatText(e) {
  const d = e.data;
  switch (e.type) {
    case "bids_revoked": return "revoked";
    case "auto_bid_triggered": return "auto-bid moved";
    default: {
      const parts = [d.amount === null || d.amount === undefined ? "auto-bid" : d.is_auto || e.type === "auto_bid_placed" ? "auto-bid" : "bid"];
      if (d.min_amount) parts.push(`floor ${money(d.min_amount)}`);
      if (d.allow_split === false) parts.push("no split");
      return parts.join(" · ");
    }
  }
}
