// The audit trail, visible: replay an auction seq by seq (buyer after open, admins). A slider,
// prev/next buttons and the arrow keys move over the seqs; each position shows the view as it was
// right after that seq (`get_view` with `at_seq`, PROTOCOL.md 1.1) and the event that made the
// step (`get_events` from seq − 1, one event). Moving the slider asks the server only once it
// rests (debounced), a late answer for a position already left is dropped, recent positions are
// kept, and nothing here touches the live view above it.

import { describeEvent } from "./common.js";
import { errorLine, fill, h, section, showError, clearError } from "./dom.js";
import { money, productLabel, statusLabel, time } from "./format.js";

const DEBOUNCE_MS = 150;
const CACHE = 64;

export function canReplay(view, role) {
  if (role === "admin") return true;
  return role === "buyer" && !["draft", "pending"].includes(view.status);
}

export class Replay {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    this.cache = new Map(); // seq -> {view, event}
    this.token = 0;
    this.timer = null;
    this.max = 0;
    this.shown = 0;
    this.slider = h("input", {
      type: "range", min: 1, max: 1, step: 1, value: 1, class: "replay-slider",
      "aria-label": "Replay position (event number)", "data-testid": "replay-slider",
    });
    this.slider.addEventListener("input", () => this.moveTo(Number(this.slider.value)));
    const step = (delta) => () => this.moveTo(this.position() + delta);
    const button = (label, onclick, testid, aria) => h("button", {
      type: "button", class: "btn small", onclick, "data-testid": testid, "aria-label": aria,
    }, label);
    this.position_ = h("span", { class: "replay-pos", "data-testid": "replay-position" });
    this.controls = h("div", { class: "replay-controls" },
      button("First", () => this.moveTo(1), "replay-first", "First event"),
      button("◀ Prev", step(-1), "replay-prev", null),
      this.slider,
      button("Next ▶", step(1), "replay-next", null),
      button("Latest", () => this.moveTo(this.max), "replay-last", "Latest event"),
      this.position_);
    // Arrow keys step from anywhere in the controls (the slider itself handles them natively).
    this.controls.addEventListener("keydown", (event) => {
      if (event.target === this.slider) return;
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1 };
      if (event.key in moves) {
        event.preventDefault();
        this.moveTo(this.position() + moves[event.key]);
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        this.moveTo(event.key === "Home" ? 1 : this.max);
      }
    });
    // The event of each step is read out (briefly); the replayed view below it is not.
    this.eventLine = h("p", { class: "replay-event", "data-testid": "replay-event", "aria-live": "polite" });
    this.error = errorLine("replay-error");
    this.body = h("div", { class: "replay-body", "data-testid": "replay-view" },
      h("p", { class: "muted" }, "Move the slider (or use the arrow keys) to see the auction as it was after each event."));
    this.el = section("Replay", h("p", { class: "muted" },
      "Every step of the audit trail: the view as it was right after each event, rebuilt by the server from the stored events."),
    this.controls, this.eventLine, this.error, this.body);
    this.el.dataset.testid = "replay";
  }

  position() {
    return Number(this.slider.value);
  }

  /** Called on every render of the screen: the slider grows with the auction. */
  update() {
    const auction = this.ctx.model.get(this.auctionId);
    if (!auction) return;
    const following = this.position() >= this.max;
    this.max = auction.seq;
    this.slider.max = String(Math.max(1, this.max));
    if (following && !this.shown) this.slider.value = String(this.max);
    this.label(this.position());
  }

  label(seq) {
    this.position_.textContent = `Event ${seq.toLocaleString()} of ${this.max.toLocaleString()}`;
    this.slider.setAttribute("aria-valuetext", `Event ${seq} of ${this.max}`);
  }

  moveTo(seq) {
    const target = Math.min(Math.max(1, Math.round(seq)), Math.max(1, this.max));
    this.slider.value = String(target);
    this.label(target);
    clearTimeout(this.timer);
    const cached = this.cache.get(target);
    if (cached) {
      this.token += 1;
      this.show(target, cached);
      return;
    }
    this.body.classList.add("stale");
    this.timer = setTimeout(() => this.fetch(target), DEBOUNCE_MS);
  }

  async fetch(seq) {
    const token = ++this.token;
    const conn = this.ctx.conn;
    try {
      const [viewReply, eventsReply] = await Promise.all([
        conn.request("get_view", { auction_id: this.auctionId, at_seq: seq }),
        conn.request("get_events", { auction_id: this.auctionId, since: seq - 1, limit: 1 }),
      ]);
      const step = { view: viewReply.view, event: eventsReply.events.find((e) => e.seq === seq) || null };
      this.cache.set(seq, step);
      if (this.cache.size > CACHE) this.cache.delete(this.cache.keys().next().value);
      if (token === this.token) this.show(seq, step);
    } catch (err) {
      if (token === this.token) {
        this.body.classList.remove("stale");
        showError(this.error, err);
      }
    }
  }

  show(seq, { view, event }) {
    clearError(this.error);
    this.shown = seq;
    this.body.classList.remove("stale");
    fill(this.eventLine, event
      ? [h("span", { class: "seq" }, `#${event.seq}`), " ", event.at ? h("time", { datetime: event.at }, time(event.at)) : null,
        " ", h("code", {}, event.type), " ", describeEvent(event, view, null)]
      : `#${seq}`);
    const sols = view.solutions || {};
    fill(this.body,
      h("p", { class: "replay-status" },
        h("span", { class: `badge status-${view.status}` }, statusLabel(view.status)),
        view.closes_at && view.status === "open" ? ` closes at ${time(view.closes_at)}` : "",
        sols.best_overall && sols.best_overall.bid_ids && sols.best_overall.bid_ids.length
          ? ` · best overall ${money(sols.best_overall.total_price)} USD` : "",
        sols.winning ? ` · selected ${money(sols.winning.total_price)} USD` : ""),
      h("div", { class: "replay-products" }, view.products.map((product) => h("div", { class: "replay-product" },
        h("h3", {}, productLabel(product)),
        (product.bids || []).length ? h("table", { class: "ranking compact" },
          h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "Supplier"), h("th", { class: "num" }, "USD/MT"))),
          h("tbody", {}, product.bids.map((bid, i) => h("tr", { "data-testid": "replay-bid" },
            h("td", { class: "num" }, String(i + 1)),
            h("td", {}, bid.supplier ? bid.supplier.name : "Competitor"),
            h("td", { class: "num amount" }, money(bid.amount))))))
          : h("p", { class: "muted" }, "No bids.")))));
  }
}
