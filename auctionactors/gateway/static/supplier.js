// The supplier's screen: where it stands (status line, in the sticky head with the countdown and
// the outbid/extension alerts), per product the ranking as it may see it with a bid form and,
// after the close, what was awarded to it; its own bids (history, and pending ones) and its side
// panels (supplierside.js).

import { AlertBar } from "./alerts.js";
import { PriceCharts } from "./chart.js";
import {
  activityPanel, auctionHead, countdownBlock, detailsPanel, openedAt, productFacts, updateCountdown,
} from "./common.js";
import { actionButton, clearError, errorLine, field, fill, h, showError } from "./dom.js";
import { centsToWire, checkBid, money, productLabel, time, toCents } from "./format.js";
import { OwnBids } from "./ownbids.js";
import { SupplierSide } from "./supplierside.js";

const GOOD = /best overall offer|You won/;
const BAD = /not the best|unsuccessful|No offer|canceled/;

function canBid(view) {
  return view.status === "pending" || view.status === "open";
}

function canRevoke(view) {
  if (view.kind !== "spot" && view.status === "decision") return true;
  return canBid(view);
}

export class SupplierScreen {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    this.cards = new Map();
    this.productKey = "";
  }

  mount(root) {
    this.countdown = countdownBlock();
    this.head = h("div");
    this.statusLine = h("p", { class: "status-line", "data-testid": "status-line", role: "status" });
    this.statusNote = h("p", { class: "status-note", "data-testid": "status-note", hidden: true });
    this.alerts = new AlertBar();
    this.ownBids = new OwnBids(this.ctx, this.auctionId);
    this.products = h("div", { class: "products" });
    this.side = new SupplierSide(this.ctx, this.auctionId);
    this.details = h("div");
    this.activity = h("div");
    this.charts = new PriceCharts(this.ctx, this.auctionId);
    root.append(
      h("div", { class: "sticky-head" }, this.head, this.statusLine, this.alerts.el),
      this.statusNote,
      h("div", { class: "layout" },
        h("div", { class: "main-col" }, this.products, this.charts.el, this.ownBids.el),
        h("aside", { class: "side-col" },
          this.side.panels(),
          this.details,
          this.activity)));
    this.update();
  }

  unmount() {
    this.charts.stop();
  }

  get auction() {
    return this.ctx.model.get(this.auctionId);
  }

  update() {
    const auction = this.auction;
    const view = auction.view;
    const headKey = JSON.stringify([view.status, view.port, view.products.map(productLabel)]);
    if (headKey !== this.headKey) {
      this.headKey = headKey;
      fill(this.head, auctionHead(view, this.countdown));
    }
    updateCountdown(this.countdown, auction);
    const line = view.status_line || "";
    this.statusLine.textContent = line;
    this.statusLine.className = `status-line ${GOOD.test(line) ? "good" : BAD.test(line) ? "bad" : "neutral"}`;
    const key = view.products.map((p) => p.product_id).join(",");
    if (key !== this.productKey) {
      this.productKey = key;
      this.cards.clear();
      fill(this.products);
      for (const product of view.products) {
        const card = this.makeCard(product);
        this.cards.set(product.product_id, card);
        this.products.append(card.el);
      }
    }
    const winning = view.solutions && view.solutions.winning ? new Set(view.solutions.winning.bid_ids) : null;
    // While pending the view ranks no bid: the supplier's own come from its events.
    const pendingOwn = view.status === "pending" ? this.ownBids.live(auction) : new Map();
    const own = new Map();
    for (const product of view.products) {
      own.set(product.product_id, this.updateCard(this.cards.get(product.product_id), product, view,
        { winning, pending: pendingOwn.get(product.product_id) }));
    }
    this.cue(auction);
    this.renderNote(view, own, winning);
    this.ownBids.render(auction);
    this.side.render(view);
    fill(this.details, detailsPanel(view, openedAt(this.ctx, auction)));
    fill(this.activity, activityPanel(auction, this.ctx.model.me.company.id));
    this.charts.update();
    const open = canBid(view);
    this.products.classList.toggle("closed", !open);
  }

  // --- products -------------------------------------------------------------------------------

  makeCard(product) {
    const pid = product.product_id;
    const title = h("h2", {});
    const facts = h("div");
    const beat = h("div", { class: "beat", "data-testid": "bid-to-beat" });
    const board = h("div", { class: "board" });
    const mine = h("div", { class: "mine-info" });
    const form = this.makeBidForm(pid);
    const el = h("section", { class: "panel product", "data-testid": `product-${pid}`, "data-product": pid },
      h("div", { class: "product-head" }, h("div", {}, title, facts), beat),
      board, mine, form.el);
    return { el, title, facts, beat, board, mine, form };
  }

  /** One product's card; returns the supplier's own bid on it (live, or pending) and its state. */
  updateCard(card, product, view, { winning, pending }) {
    const me = this.ctx.model.me.company.id;
    card.title.textContent = productLabel(product);
    fill(card.facts, productFacts(product));
    const bids = product.bids || [];
    const own = bids.find((b) => b.supplier && b.supplier.id === me) || pending || null;
    const competitors = bids.filter((b) => b !== own);
    const state = cardState(view, product, own, pending, winning);
    card.el.dataset.state = state;
    card.el.classList.toggle("leading", state === "leading");
    card.el.classList.toggle("won", state === "won");
    card.el.classList.toggle("lost", state === "lost");
    const several = view.products.length > 1;
    const value = (amount, testid) => h("span", { class: "beat-value", "data-testid": testid }, money(amount));
    const label = (text) => h("span", { class: "beat-label", "data-testid": "beat-label" }, text);
    const note = (text) => (text ? h("span", { class: "beat-note" }, text) : null);
    switch (state) {
      case "won":
        fill(card.beat, label("You won at"), value(own.amount),
          note(`award ${money(awardOf(product, own))} USD`));
        break;
      case "lost":
        fill(card.beat, label(own ? "Not selected" : "Not awarded to you"),
          own ? value(own.amount) : null, note(own ? "your offer" : "you had no offer"));
        break;
      case "over":
        fill(card.beat, label(view.status === "canceled" ? "Canceled" : "No offer selected"),
          own ? value(own.amount) : null, note(own ? "your offer" : ""));
        break;
      case "pending":
        fill(card.beat, label("Your bid"), own.amount ? value(own.amount) : null,
          note(own.amount ? "" : `auto-bid, floor ${money(own.min_amount)}`));
        break;
      case "leading": {
        const next = competitors[0];
        fill(card.beat, label(view.status === "open" ? "You lead at" : "You ranked first at"), value(own.amount),
          note(next ? `next best ${money(next.amount)}` : "no other offers"),
          several ? note("first on this product") : null);
        break;
      }
      case "behind":
        fill(card.beat,
          label(view.status === "open" ? "Bid to beat" : "Best offer"),
          value(bids[0].amount, "bid-to-beat-value"),
          view.status === "open" ? note(`${leadAt(bids[0].amount, view)} or lower leads`) : null,
          note(own ? `your offer ${money(own.amount)}` : "you have no offer"));
        break;
      default:
        fill(card.beat, label("No offers yet"),
          note(view.status === "pending" ? "ranked at the start" : ""));
    }
    fill(card.board, pending ? null : rankingTable(bids, me, winning));
    if (own) {
      fill(card.mine,
        h("span", { "data-testid": "your-bid" }, pending ? "Your bid (not ranked until bidding opens): " : canBid(view) ? "Your live bid: " : "Your bid: ",
          h("strong", {}, own.amount ? money(own.amount) : "auto")),
        own.min_amount ? h("span", {}, ` · auto-bid down to ${money(own.min_amount)}`) : null,
        own.allow_split === false ? h("span", {}, " · not splittable") : null,
        own.traded ? h("span", {}, " · traded") : null,
        own.comment ? h("span", {}, ` · “${own.comment}”`) : null);
    } else {
      fill(card.mine);
    }
    card.mine.hidden = !own;
    const form = card.form;
    form.own = own;
    form.label = productLabel(product);
    form.fieldset.disabled = !canBid(view);
    form.fieldset.hidden = ["closed", "expired", "canceled"].includes(view.status); // for good
    form.traded.hidden = !view.traded_bids_allowed;
    const revocable = Boolean(own && canRevoke(view));
    if (!revocable) form.sure.hidden = true;
    form.revoke.hidden = !revocable || !form.sure.hidden;
    // "Bid placed at…" and "Bid revoked at…" only hold while bidding goes on, and while true
    // (a bid or revoke from another session of the company overtakes them).
    const done = form.done;
    const overtaken = view.seq > Number(done.dataset.seq || Infinity) &&
      ((done.dataset.kind === "revoked" && own) || (done.dataset.kind === "placed" && !own));
    if (!canBid(view) || overtaken) {
      done.hidden = true;
    }
    form.amount.placeholder = `tick ${view.tick}`;
    form.closedNote.hidden = canBid(view);
    form.closedNote.textContent = view.status === "decision"
      ? "Bidding has ended; the buyer is deciding." : view.status === "draft" ? "" : "Bidding is closed.";
    return { own, state, product };
  }

  /** Outbid (a product it led is led by another) and extensions: a cue the supplier notices. */
  cue(auction) {
    const view = auction.view;
    const before = this.leading;
    this.leading = new Map(view.products.map((p) => [p.product_id, Boolean(p.is_leading)]));
    if (before && view.status === "open") {
      const me = this.ctx.model.me.company.id;
      const lost = view.products.filter((p) => before.get(p.product_id) && !p.is_leading &&
        (p.bids || []).some((b) => b.supplier && b.supplier.id === me));
      if (lost.length) {
        this.alerts.show("outbid", `Outbid on ${lost.map((p) => `${productLabel(p)} (best now ${money(p.bids[0].amount)})`).join(", ")}`);
      }
    }
    if (this.extendedAt !== undefined && auction.extendedAt !== this.extendedAt && view.status === "open") {
      this.alerts.show("extended", `Bidding extended: it now closes at ${time(view.closes_at)}`);
    }
    this.extendedAt = auction.extendedAt;
    if (!["open", "pending"].includes(view.status)) this.alerts.hide();
  }

  /** A line under the status line: why a product can lead while the offer is not the best, or
   * the award total of a winner. */
  renderNote(view, own, winning) {
    const states = [...own.values()];
    let text = "";
    if (view.status === "closed" && winning) {
      const won = states.filter((s) => s.state === "won");
      const cents = won.reduce((sum, s) => sum + (toCents(awardOf(s.product, s.own)) || 0), 0);
      if (won.length) text = `Your award: ${money(centsToWire(cents))} USD`;
      this.statusNote.classList.add("award");
    } else if (["open", "decision"].includes(view.status) && view.products.length > 1 &&
      states.some((s) => s.state === "leading") && BAD.test(view.status_line || "")) {
      text = "“You lead” is per product. The line above compares whole offers over all products " +
        "(totals and split rules): the best overall offer is someone else's.";
    }
    if (!text.startsWith("Your award")) this.statusNote.classList.remove("award");
    this.statusNote.textContent = text;
    this.statusNote.hidden = !text;
  }

  makeBidForm(productId) {
    const amount = h("input", { name: "amount", inputmode: "decimal", autocomplete: "off", placeholder: "e.g. 2.25", "data-testid": "amount" });
    const floor = h("input", { name: "min_amount", inputmode: "decimal", autocomplete: "off", placeholder: "optional", "data-testid": "floor" });
    const split = h("input", { type: "checkbox", name: "allow_split", checked: true });
    const tradedBox = h("input", { type: "checkbox", name: "traded" });
    const traded = h("label", { class: "check", hidden: true }, tradedBox, " Traded bid");
    const comment = h("input", { name: "comment", autocomplete: "off", placeholder: "optional, buyer only" });
    const error = errorLine("bid-error");
    const done = h("p", { class: "done", "data-testid": "bid-done", hidden: true });
    const submit = h("button", { type: "submit", class: "btn primary" }, "Place bid");
    const state = {};
    const question = h("span", {});
    const revoke = h("button", { type: "button", class: "btn ghost", onclick: () => {
      question.textContent = `Revoke your bid${state.own && state.own.amount ? ` of ${money(state.own.amount)}` : ""} on ${state.label}? `;
      sure.hidden = false;
      revoke.hidden = true;
      sure.querySelector("button").focus();
    } }, "Revoke my bid");
    const sure = h("span", { class: "confirm-inline", hidden: true, "data-testid": "revoke-confirm" }, question,
      actionButton("Yes, revoke", async () => {
        const reply = await this.ctx.conn.request("revoke_bid", { auction_id: this.auctionId, product_id: productId });
        done.dataset.seq = reply.seq;
        sure.hidden = true;
        done.textContent = `Bid revoked at ${time(new Date(this.ctx.model.clock.now()).toISOString())}`;
        done.dataset.kind = "revoked";
        done.hidden = false;
      }, { errorEl: error, cls: "btn danger", testid: "confirm-revoke" }),
      h("button", { type: "button", class: "btn ghost", onclick: () => { sure.hidden = true; revoke.hidden = false; } }, "Keep it"));
    const closedNote = h("p", { class: "muted closed-note", hidden: true });
    floor.title = "An auto-bid: your price drops by itself, one tick under the best competitor, down to this floor";
    const fieldset = h("fieldset", {},
      h("div", { class: "form-row bid-row" },
        field("Price (USD/MT)", amount),
        field("Auto-bid floor", floor),
        field("Comment", comment),
        h("div", { class: "bid-checks" }, h("label", { class: "check" }, split, " Split allowed"), traded),
        h("div", { class: "bid-buttons" }, revoke, submit)));
    const form = h("form", { class: "bid-form", "data-testid": "bid-form", novalidate: true }, fieldset, sure, closedNote, error, done);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError(error);
      done.hidden = true;
      const view = this.auction.view;
      let checked;
      try {
        checked = checkBid(amount.value, floor.value, view.tick, view.kind);
      } catch (err) {
        showError(error, err);
        return;
      }
      const bid = { product_id: productId, allow_split: split.checked };
      if (checked.amount !== null) bid.amount = checked.amount;
      if (checked.min_amount !== null) bid.min_amount = checked.min_amount;
      if (comment.value.trim()) bid.comment = comment.value.trim();
      const request = { auction_id: this.auctionId, bids: [bid] };
      if (view.traded_bids_allowed && tradedBox.checked) request.traded = true;
      submit.disabled = true;
      try {
        const reply = await this.ctx.conn.request("place_bids", request);
        done.dataset.seq = reply.seq;
        amount.value = "";
        floor.value = "";
        comment.value = "";
        done.textContent = `Bid placed at ${time(new Date(this.ctx.model.clock.now()).toISOString())}`;
        done.dataset.kind = "placed";
        done.hidden = false;
      } catch (err) {
        showError(error, err);
      } finally {
        submit.disabled = false;
      }
    });
    return Object.assign(state, { el: form, fieldset, traded, revoke, sure, amount, closedNote, done });
  }
}

/** The highest amount that would lead a product whose best bid is `best`: one tick under it
 * (an equal amount entered later ranks behind). */
function leadAt(best, view) {
  const tick = toCents(view.tick) || 1;
  return money(centsToWire((toCents(best) || 0) - tick));
}

/** How a product's card reads: won, lost, over (expired, canceled), pending (its own bid, not
 * ranked yet), leading, behind, or none (no offers). After the close the selection decides, not
 * the ranking: the buyer may pick any bid. */
function cardState(view, product, own, pending, winning) {
  if (view.status === "closed" && winning) return own && winning.has(own.bid_id) ? "won" : "lost";
  if (view.status === "expired" || view.status === "canceled") return "over";
  if (pending) return "pending";
  if (product.is_leading && own) return "leading";
  return (product.bids || []).length ? "behind" : "none";
}

/** What a bid is worth: amount × quantity (a term product: per month × its months). */
function awardOf(product, bid) {
  const cents = toCents(bid.amount) || 0;
  let qty = Number(product.quantity_mt || 0);
  if (product.quantity_mt_per_month) {
    const [sy, sm] = String(product.start_month).split("-").map(Number);
    const [ey, em] = String(product.end_month).split("-").map(Number);
    qty = Number(product.quantity_mt_per_month) * ((ey - sy) * 12 + (em - sm) + 1);
  }
  return centsToWire(cents * qty);
}

/** The ranking as a supplier sees it: competitors without names, its own bids highlighted. */
function rankingTable(bids, me, winning) {
  if (!bids.length) return h("p", { class: "muted empty" }, "No bids yet.");
  return h("table", { class: winning ? "ranking decided" : "ranking", "data-testid": "ranking" },
    h("thead", {}, h("tr", {}, h("th", { class: "num rank" }, "#"), h("th", {}, "Supplier"),
      h("th", { class: "num amount" }, "USD/MT"), h("th", { class: "when" }, "Entered"))),
    h("tbody", {}, bids.map((bid, i) => {
      const own = bid.supplier && bid.supplier.id === me;
      const won = winning && winning.has(bid.bid_id);
      return h("tr", { class: [own ? "mine" : "", won ? "selected" : ""].join(" ").trim() || null, "data-testid": own ? "own-bid" : "bid" },
        h("td", { class: "num rank" }, String(i + 1)),
        h("td", {}, own ? "You" : "Competitor", bid.is_auto ? h("span", { class: "tag" }, "auto") : null,
          won ? h("span", { class: "tag good" }, "selected") : null),
        h("td", { class: "num amount" }, money(bid.amount)),
        h("td", { class: "when" }, time(bid.original_time_entered)));
    })));
}
