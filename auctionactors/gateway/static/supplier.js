// The supplier's screen: where it stands (status line), per product the ranking as it may see
// it with a bid form, and its own barges, comments and RSVP.

import { PriceCharts } from "./chart.js";
import {
  activityPanel, auctionHead, countdownBlock, detailsPanel, productFacts, updateCountdown,
} from "./common.js";
import { actionButton, clearError, errorLine, field, fill, h, section, showError } from "./dom.js";
import { centsToWire, checkBid, money, productLabel, time, toCents } from "./format.js";

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
    this.products = h("div", { class: "products" });
    this.rsvp = h("div");
    this.barges = h("div");
    this.bargeForm = this.makeBargeForm();
    this.comments = h("div");
    this.commentForm = this.makeCommentForm();
    this.details = h("div");
    this.activity = h("div");
    this.charts = new PriceCharts(this.ctx, this.auctionId);
    root.append(
      this.head,
      this.statusLine,
      h("div", { class: "layout" },
        h("div", { class: "main-col" }, this.products, this.charts.el),
        h("aside", { class: "side-col" },
          section("Your answer", this.rsvp),
          section("Barges", this.barges, this.bargeForm),
          section("Comments to the buyer", this.comments, this.commentForm),
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
    for (const product of view.products) this.updateCard(this.cards.get(product.product_id), product, view);
    this.renderRsvp(view);
    this.renderBarges(view);
    this.renderComments(view);
    fill(this.details, detailsPanel(view));
    fill(this.activity, activityPanel(auction, this.ctx.model.me.company.id));
    this.charts.update();
    const open = canBid(view);
    for (const el of [this.bargeForm, this.commentForm]) {
      el.querySelector("fieldset").disabled = ["closed", "expired", "canceled"].includes(view.status);
    }
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

  updateCard(card, product, view) {
    const me = this.ctx.model.me.company.id;
    card.title.textContent = productLabel(product);
    fill(card.facts, productFacts(product));
    const bids = product.bids || [];
    const own = bids.find((b) => b.supplier && b.supplier.id === me);
    const competitors = bids.filter((b) => b !== own);
    card.el.classList.toggle("leading", Boolean(product.is_leading));
    if (product.is_leading) {
      const next = competitors[0];
      fill(card.beat,
        h("span", { class: "beat-label" }, "You lead at"),
        h("span", { class: "beat-value" }, money(own.amount)),
        h("span", { class: "beat-note" }, next ? `next best ${money(next.amount)}` : "no other offers"));
    } else if (bids.length) {
      fill(card.beat,
        h("span", { class: "beat-label" }, "Bid to beat"),
        h("span", { class: "beat-value", "data-testid": "bid-to-beat-value" }, money(bids[0].amount)),
        h("span", { class: "beat-note" }, `${leadAt(bids[0].amount, view)} or lower leads`),
        h("span", { class: "beat-note" }, own ? `your offer ${money(own.amount)}` : "you have no offer"));
    } else {
      fill(card.beat, h("span", { class: "beat-label" }, "No offers yet"),
        h("span", { class: "beat-note" }, view.status === "pending" ? "ranked at the start" : ""));
    }
    fill(card.board, rankingTable(bids, me));
    const details = own && ((own.is_auto && own.min_amount) || own.allow_split === false || own.traded || own.comment);
    if (details) {
      fill(card.mine,
        h("span", {}, "Your live bid: ", h("strong", {}, money(own.amount))),
        own.is_auto && own.min_amount ? h("span", {}, ` · auto-bid down to ${money(own.min_amount)}`) : null,
        own.allow_split === false ? h("span", {}, " · not splittable") : null,
        own.traded ? h("span", {}, " · traded") : null,
        own.comment ? h("span", {}, ` · “${own.comment}”`) : null);
    } else {
      fill(card.mine);
    }
    card.mine.hidden = !details;
    const form = card.form;
    form.fieldset.disabled = !canBid(view);
    form.traded.hidden = !view.traded_bids_allowed;
    form.revoke.hidden = !(own && canRevoke(view));
    form.amount.placeholder = `tick ${view.tick}`;
    form.closedNote.hidden = canBid(view);
    form.closedNote.textContent = view.status === "decision"
      ? "Bidding has ended; the buyer is deciding." : view.status === "draft" ? "" : "Bidding is closed.";
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
    const revoke = actionButton("Revoke my bid", async () => {
      await this.ctx.conn.request("revoke_bid", { auction_id: this.auctionId, product_id: productId });
      done.textContent = `Bid revoked at ${time(new Date().toISOString())}`;
      done.hidden = false;
    }, { errorEl: error, cls: "btn ghost" });
    const closedNote = h("p", { class: "muted closed-note", hidden: true });
    floor.title = "An auto-bid: your price drops by itself, one tick under the best competitor, down to this floor";
    const fieldset = h("fieldset", {},
      h("div", { class: "form-row bid-row" },
        field("Price (USD/MT)", amount),
        field("Auto-bid floor", floor),
        field("Comment", comment),
        h("div", { class: "bid-checks" }, h("label", { class: "check" }, split, " Split allowed"), traded),
        h("div", { class: "bid-buttons" }, revoke, submit)));
    const form = h("form", { class: "bid-form", "data-testid": "bid-form", novalidate: true }, fieldset, closedNote, error, done);
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
        await this.ctx.conn.request("place_bids", request);
        amount.value = "";
        floor.value = "";
        comment.value = "";
        done.textContent = `Bid placed at ${time(new Date(this.ctx.model.clock.now()).toISOString())}`;
        done.hidden = false;
      } catch (err) {
        showError(error, err);
      } finally {
        submit.disabled = false;
      }
    });
    return { el: form, fieldset, traded, revoke, amount, closedNote };
  }

  // --- RSVP, barges, comments -----------------------------------------------------------------

  renderRsvp(view) {
    const error = errorLine();
    const current = view.rsvp;
    const buttons = ["yes", "maybe", "no"].map((response) => {
      const label = { yes: "Attending", maybe: "Maybe", no: "Declining" }[response];
      const button = actionButton(label, () =>
        this.ctx.conn.request("rsvp", { auction_id: this.auctionId, response }),
      { errorEl: error, cls: `btn small ${current === response ? "selected" : "ghost"}`, testid: `rsvp-${response}` });
      button.setAttribute("aria-pressed", String(current === response));
      return button;
    });
    const final = ["closed", "expired", "canceled"].includes(view.status);
    for (const b of buttons) b.disabled = final;
    fill(this.rsvp,
      h("p", { class: "muted" }, current ? `You answered: ${current}` : "Will you take part?"),
      h("div", { class: "btn-group" }, buttons), error);
  }

  renderBarges(view) {
    const error = errorLine();
    const rows = view.barges.map((b) => h("li", {},
      h("span", {}, `${b.barge.name} (IMO ${b.barge.imo})`), " ",
      h("span", { class: `badge barge-${b.status}` }, b.status), " ",
      actionButton("Withdraw", () =>
        this.ctx.conn.request("unsubmit_barge", { auction_id: this.auctionId, imo: b.barge.imo }),
      { errorEl: error, cls: "btn small ghost" })));
    fill(this.barges, rows.length ? h("ul", { class: "plain", "data-testid": "barges" }, rows)
      : h("p", { class: "muted" }, "No barge submitted."), error);
  }

  makeBargeForm() {
    const name = h("input", { name: "barge_name", placeholder: "Barge name", autocomplete: "off" });
    const imo = h("input", { name: "barge_imo", placeholder: "IMO", inputmode: "numeric", autocomplete: "off" });
    const error = errorLine();
    const form = h("form", { class: "inline-form", novalidate: true },
      h("fieldset", {}, field("Barge", name), field("IMO", imo),
        h("button", { type: "submit", class: "btn" }, "Submit barge")), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError(error);
      try {
        await this.ctx.conn.request("submit_barge", {
          auction_id: this.auctionId, barge: { name: name.value.trim(), imo: imo.value.trim() },
        });
        name.value = "";
        imo.value = "";
      } catch (err) {
        showError(error, err);
      }
    });
    return form;
  }

  renderComments(view) {
    const error = errorLine();
    const rows = view.comments.map((c) => h("li", {},
      h("span", {}, `“${c.text}”`), " ", h("time", { class: "muted" }, time(c.at)), " ",
      actionButton("Delete", () =>
        this.ctx.conn.request("delete_comment", { auction_id: this.auctionId, comment_id: c.comment_id }),
      { errorEl: error, cls: "btn small ghost" })));
    fill(this.comments, rows.length ? h("ul", { class: "plain", "data-testid": "comments" }, rows)
      : h("p", { class: "muted" }, "No comments."), error);
  }

  makeCommentForm() {
    const text = h("input", { name: "comment_text", placeholder: "A note for the buyer", autocomplete: "off" });
    const error = errorLine();
    const form = h("form", { class: "inline-form", novalidate: true },
      h("fieldset", {}, field("Comment", text), h("button", { type: "submit", class: "btn" }, "Post")), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError(error);
      try {
        await this.ctx.conn.request("post_comment", { auction_id: this.auctionId, text: text.value });
        text.value = "";
      } catch (err) {
        showError(error, err);
      }
    });
    return form;
  }
}

/** The highest amount that would lead a product whose best bid is `best`: one tick under it
 * (an equal amount entered later ranks behind). */
function leadAt(best, view) {
  const tick = toCents(view.tick) || 1;
  return money(centsToWire((toCents(best) || 0) - tick));
}

/** The ranking as a supplier sees it: competitors without names, its own bids highlighted. */
function rankingTable(bids, me) {
  if (!bids.length) return h("p", { class: "muted empty" }, "No bids yet.");
  return h("table", { class: "ranking", "data-testid": "ranking" },
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "Supplier"),
      h("th", { class: "num" }, "USD/MT"), h("th", { class: "when" }, "Entered"))),
    h("tbody", {}, bids.map((bid, i) => {
      const own = bid.supplier && bid.supplier.id === me;
      return h("tr", { class: own ? "mine" : null, "data-testid": own ? "own-bid" : "bid" },
        h("td", { class: "num rank" }, String(i + 1)),
        h("td", {}, own ? "You" : "Competitor", bid.is_auto ? h("span", { class: "tag" }, "auto") : null),
        h("td", { class: "num amount" }, money(bid.amount)),
        h("td", { class: "when" }, time(bid.original_time_entered)));
    })));
}
