// The buyer's screen (also the admin's and, read-only, the observer's): the live bid board with
// supplier names or aliases, the solutions and the selection, barges, comments and RSVPs.

import { AlertBar } from "./alerts.js";
import { AuditLog } from "./audit.js";
import { PriceCharts } from "./chart.js";
import {
  activityPanel, auctionHead, bidIndex, countdownBlock, detailsPanel, openedAt, productFacts, updateCountdown,
} from "./common.js";
import { knownEvent } from "./eventlog.js";
import { actionButton, clearError, errorLine, field, fill, h, section } from "./dom.js";
import {
  centsToWire, dateTime, fromLocalInput, money, parseTime, productLabel, time, toCents, toLocalInput, zone,
} from "./format.js";
import { Replay, canReplay } from "./replay.js";

const FINAL = ["closed", "expired", "canceled"];

export function canSelect(view, role) {
  if (role === "observer") return false;
  if (view.status === "expired") return role === "admin";
  if (view.kind === "spot") return view.status === "decision";
  return view.status === "open" || view.status === "decision";
}

export class BuyerScreen {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    this.role = ctx.model.me.company.role;
    this.picks = new Map();
    this.staged = null;
    this.productKey = "";
    this.cards = new Map();
  }

  get auction() {
    return this.ctx.model.get(this.auctionId);
  }

  mount(root) {
    this.countdown = countdownBlock();
    this.head = h("div");
    this.actionError = errorLine("action-error");
    this.banner = h("p", { class: "status-line neutral", "data-testid": "buyer-status", role: "status" });
    this.alerts = new AlertBar();
    this.products = h("div", { class: "products" });
    this.solutions = h("div");
    this.confirm = this.makeConfirm();
    this.side = {
      suppliers: h("div"), barges: h("div"), comments: h("div"), details: h("div"), activity: h("div"),
    };
    this.audit = this.role === "observer" ? null : new AuditLog(this.ctx, this.auctionId);
    this.charts = new PriceCharts(this.ctx, this.auctionId);
    this.replay = this.role === "observer" ? null : new Replay(this.ctx, this.auctionId);
    this.mainCol = h("div", { class: "main-col" }, this.products,
      h("div", { class: "solutions-panel" }, section("Solutions", this.solutions, this.confirm.el)),
      this.charts.el);
    this.schedule = this.makeSchedule();
    // (Node.append writes null as the text "null": absent panels are filtered out.)
    root.append(...[h("div", { class: "sticky-head" }, this.head, this.actionError, this.banner, this.alerts.el),
      this.schedule.el,
      h("div", { class: "layout" },
        this.mainCol,
        h("aside", { class: "side-col" },
          section("Suppliers", this.side.suppliers),
          section("Barges", this.side.barges),
          section("Comments from suppliers", this.side.comments),
          this.side.details,
          this.side.activity)),
      this.replay ? this.replay.el : null,
      this.audit ? this.audit.el : null].filter(Boolean));
    this.update();
  }

  unmount() {
    this.charts.stop();
  }

  update() {
    const auction = this.auction;
    const view = auction.view;
    const headKey = JSON.stringify([view.status, view.port, view.products.map(productLabel)]);
    if (headKey !== this.headKey) {
      this.headKey = headKey;
      fill(this.head, auctionHead(view, this.countdown, this.headActions(view)));
    }
    updateCountdown(this.countdown, auction);
    if (this.extendedAt !== undefined && auction.extendedAt !== this.extendedAt && view.status === "open") {
      this.alerts.show("extended", `Bidding extended: it now closes at ${time(view.closes_at)}`);
    }
    this.extendedAt = auction.extendedAt;
    if (view.status !== "open") this.alerts.hide();
    this.banner.textContent = bannerText(view, this.role);
    this.banner.className = `status-line ${view.status === "decision" ? "attention" : view.status === "closed" ? "good" : "neutral"}`;
    const index = bidIndex(view);
    for (const [pid, bidId] of this.picks) {
      const product = view.products.find((p) => p.product_id === pid);
      if (!product || !product.bids.some((b) => b.bid_id === bidId)) this.picks.delete(pid);
    }
    const key = view.products.map((p) => p.product_id).join(",");
    if (key !== this.productKey) {
      this.productKey = key;
      fill(this.products);
      this.cards.clear();
      for (const product of view.products) {
        const card = { title: h("h2"), facts: h("div"), best: h("div", { class: "beat" }), board: h("div", { class: "board" }) };
        card.el = h("section", { class: "panel product", "data-testid": `product-${product.product_id}` },
          h("div", { class: "product-head" }, h("div", {}, card.title, card.facts), card.best), card.board);
        this.cards.set(product.product_id, card);
        this.products.append(card.el);
      }
    }
    const selectable = canSelect(view, this.role);
    this.winning = view.solutions && view.solutions.winning ? new Set(view.solutions.winning.bid_ids) : null;
    // While (or once) a choice is to be made, the solutions come first.
    this.mainCol.classList.toggle("solutions-first", ["decision", "expired", "closed"].includes(view.status));
    for (const product of view.products) {
      const card = this.cards.get(product.product_id);
      card.title.textContent = productLabel(product);
      fill(card.facts, productFacts(product));
      const bids = product.bids || [];
      fill(card.best, bids.length
        ? [h("span", { class: "beat-label" }, "Best offer"), h("span", { class: "beat-value" }, money(bids[0].amount)),
          h("span", { class: "beat-note" }, bids[0].supplier ? bids[0].supplier.name : "")]
        : h("span", { class: "beat-label" }, "No offers yet"));
      fill(card.board, this.boardTable(product, selectable));
    }
    this.renderSolutions(view, index, selectable, auction);
    if (this.staged && !selectable) this.unstage();
    this.renderSuppliers(view);
    this.renderBarges(view);
    this.renderComments(view);
    fill(this.side.details, detailsPanel(view, openedAt(this.ctx, auction)));
    fill(this.side.activity, activityPanel(auction, null));
    const editable = this.role !== "observer" && (view.status === "draft" || view.status === "pending");
    this.schedule.el.hidden = !editable;
    if (editable && !this.schedule.touched) {
      const start = parseTime(view.scheduled_start);
      this.schedule.input.value = Number.isNaN(start) ? "" : toLocalInput(start);
    }
    this.charts.update();
    if (this.replay) {
      this.replay.el.hidden = !canReplay(view, this.role);
      if (!this.replay.el.hidden) this.replay.update();
    }
    if (this.audit) {
      this.audit.el.hidden = this.role !== "admin" && (view.status === "draft" || view.status === "pending");
      this.audit.render();
    }
  }

  headActions(view) {
    const actions = [];
    if (this.role === "admin" && view.status === "pending") {
      actions.push(actionButton("Start now", () =>
        this.ctx.conn.request("start_auction", { auction_id: this.auctionId }),
      { errorEl: this.actionError, cls: "btn primary", testid: "start-now" }));
    }
    if (this.role !== "observer" && !FINAL.includes(view.status)) {
      const sure = h("span", { class: "confirm-inline", hidden: true },
        "Cancel this auction for everyone? ",
        actionButton("Yes, cancel it", () =>
          this.ctx.conn.request("cancel_auction", { auction_id: this.auctionId }),
        { errorEl: this.actionError, cls: "btn danger", testid: "confirm-cancel" }),
        h("button", { type: "button", class: "btn ghost", onclick: () => { sure.hidden = true; ask.hidden = false; } }, "No"));
      const ask = h("button", { type: "button", class: "btn ghost", "data-testid": "cancel-auction",
        onclick: () => { sure.hidden = false; ask.hidden = true; } }, "Cancel auction");
      actions.push(ask, sure);
    }
    return actions.length ? actions : null;
  }

  /** Draft and pending: set or move the start (update_auction). */
  makeSchedule() {
    const input = h("input", { type: "datetime-local", name: "reschedule", "data-testid": "schedule-input" });
    const error = errorLine("schedule-error");
    const state = { input, touched: false };
    input.addEventListener("input", () => { state.touched = true; });
    const save = actionButton("Save start time", async () => {
      const start = fromLocalInput(input.value);
      if (!start) throw new Error("Choose when bidding opens");
      await this.ctx.conn.request("update_auction", { auction_id: this.auctionId, changes: { scheduled_start: start } });
      state.touched = false;
    }, { errorEl: error, cls: "btn primary", testid: "schedule-save" });
    state.el = h("section", { class: "panel schedule", "data-testid": "schedule" },
      h("div", { class: "form-row" }, field("Bidding opens", input, `your time (${zone})`), h("div", { class: "btn-group end" }, save)),
      error);
    return state;
  }

  boardTable(product, selectable) {
    const bids = product.bids || [];
    if (!bids.length) return h("p", { class: "muted empty" }, "No bids yet.");
    const pid = product.product_id;
    const winning = this.winning;
    return h("table", { class: winning ? "ranking decided" : "ranking", "data-testid": "ranking" },
      h("thead", {}, h("tr", {},
        selectable ? h("th", { class: "pick" }, "Pick") : null,
        h("th", { class: "num rank" }, "#"), h("th", {}, "Supplier"), h("th", { class: "num amount" }, "USD/MT"),
        h("th", { class: "flags" }, ""), h("th", { class: "when" }, "Entered"))),
      h("tbody", {}, bids.map((bid, i) => h("tr", {
        "data-testid": "bid", "data-bid": bid.bid_id,
        class: this.picks.get(pid) === bid.bid_id ? "picked" : winning && winning.has(bid.bid_id) ? "selected" : null,
      },
        selectable ? h("td", { class: "pick" }, h("input", {
          type: "radio", name: `pick-${pid}`, value: bid.bid_id, checked: this.picks.get(pid) === bid.bid_id,
          "aria-label": `Pick ${bid.supplier ? bid.supplier.name : "bid"} at ${money(bid.amount)}`,
          onchange: () => { this.picks.set(pid, bid.bid_id); this.update(); },
        })) : null,
        h("td", { class: "num rank" }, String(i + 1)),
        h("td", {}, bid.supplier ? bid.supplier.name : "?",
          winning && winning.has(bid.bid_id) ? h("span", { class: "tag good" }, "selected") : null,
          bid.comment ? h("div", { class: "bid-comment" }, `“${bid.comment}”`) : null),
        h("td", { class: "num amount" }, money(bid.amount)),
        h("td", { class: "flags" },
          bid.is_auto ? h("span", { class: "tag" }, "auto") : null,
          bid.allow_split === false ? h("span", { class: "tag warn" }, "no split") : null,
          bid.traded ? h("span", { class: "tag" }, "traded") : null,
          bid.min_amount ? h("span", { class: "tag muted" }, `floor ${money(bid.min_amount)}`) : null),
        h("td", { class: "when" }, time(bid.original_time_entered))))));
  }

  // --- solutions and the selection ------------------------------------------------------------

  renderSolutions(view, index, selectable, auction) {
    const sols = view.solutions || {};
    const parts = [];
    if (sols.winning) {
      // The selection's comment is in its event only (the view keeps the port agent).
      const selected = knownEvent(this.ctx, auction, "winning_solution_selected", Math.max(0, view.seq - 50));
      const data = (selected && selected.data) || {};
      parts.push(solutionCard("Selected", sols.winning, index, {
        testid: "solution-winning", cls: "winning",
        extra: [
          selected ? ["Selected", `${dateTime(selected.at)}`] : null,
          ["Port agent", view.port_agent || data.port_agent || "none given"],
          this.role !== "observer" ? ["Comment", data.comment || (selected ? "none" : "…")] : null,
        ],
      }));
    }
    const stage = (label, sol, request) => () => this.stage({ label, sol, request });
    parts.push(h("div", { class: "solution-grid" },
      solutionCard("Best overall", sols.best_overall, index, {
        testid: "solution-best-overall",
        select: selectable && sols.best_overall ? stage("best overall", sols.best_overall, { solution: "best_overall" }) : null,
      }),
      solutionCard("Best single supplier", sols.best_single_supplier, index, {
        testid: "solution-best-single",
        select: selectable && sols.best_single_supplier
          ? stage("best single supplier", sols.best_single_supplier, { solution: "best_single_supplier" }) : null,
      })));
    // Full offers first, cheapest first; partial offers after them, marked.
    const bySupplier = (sols.by_supplier || []).filter((s) => s.bid_ids && s.bid_ids.length)
      .sort((a, b) => (b.valid - a.valid) || ((toCents(a.total_price) || 0) - (toCents(b.total_price) || 0)));
    if (bySupplier.length) {
      parts.push(h("table", { class: "by-supplier", "data-testid": "solutions-by-supplier" },
        h("thead", {}, h("tr", {}, h("th", {}, "Supplier"), h("th", {}, "Covers"), h("th", { class: "num" }, "Total USD"),
          selectable ? h("th", { class: "row-action" }, h("span", { class: "sr-only" }, "Action")) : null)),
        h("tbody", {}, bySupplier.map((s) => h("tr", { class: s.valid ? null : "partial", "data-testid": "supplier-solution" },
          h("td", {}, s.supplier.name),
          h("td", {}, s.valid ? "all products"
            : h("span", { class: "tag warn", "data-testid": "partial" }, `partial: ${s.bid_ids.length} of ${view.products.length}`)),
          h("td", { class: "num amount" }, money(s.total_price)),
          selectable ? h("td", { class: "row-action" }, h("button", {
            type: "button", class: s.valid ? "btn small" : "btn small ghost partial",
            "aria-label": s.valid ? `Select ${s.supplier.name}'s offer`
              : `Select ${s.supplier.name}'s partial offer (${s.bid_ids.length} of ${view.products.length} products)`,
            onclick: () => this.stage({
              label: s.valid ? `all of ${s.supplier.name}'s bids` : `${s.supplier.name}'s partial offer`,
              sol: s, request: { bid_ids: s.bid_ids },
            }),
          }, s.valid ? "Select" : "Select partial")) : null)))));
    }
    if (selectable) {
      const picked = [...this.picks.values()];
      const total = picked.reduce((sum, id) => {
        const found = index.get(id);
        const qty = found ? Number(found.product.quantity_mt || 0) : 0;
        return sum + (found ? (toCents(found.bid.amount) || 0) * qty : 0);
      }, 0);
      parts.push(h("div", { class: "custom-pick" },
        h("span", {}, picked.length
          ? `Your pick: ${picked.length} of ${view.products.length} products, total ${money(centsToWire(total))}`
          : "Or pick one bid per product in the bid boards."),
        picked.length ? h("button", { type: "button", class: "btn", "data-testid": "select-picked",
          onclick: () => this.stage({ label: "your picked bids", sol: { bid_ids: picked, total_price: centsToWire(total), valid: picked.length === view.products.length }, request: { bid_ids: picked } }) },
        "Select picked bids") : null,
        picked.length ? h("button", { type: "button", class: "btn ghost", onclick: () => { this.picks.clear(); this.update(); } }, "Clear") : null));
    } else if (!sols.winning && this.role !== "observer") {
      parts.push(h("p", { class: "muted" }, selectHint(view, this.role)));
    }
    fill(this.solutions, parts);
  }

  makeConfirm() {
    const summary = h("p", { class: "confirm-summary" });
    const comment = h("input", { name: "selection_comment", autocomplete: "off", placeholder: "optional" });
    const portAgent = h("input", { name: "port_agent", autocomplete: "off", placeholder: "optional" });
    const error = errorLine("select-error");
    const confirmButton = actionButton("Confirm selection", async () => {
      const staged = this.staged;
      if (!staged) return;
      const request = { auction_id: this.auctionId, ...staged.request };
      if (comment.value.trim()) request.comment = comment.value.trim();
      if (portAgent.value.trim()) request.port_agent = portAgent.value.trim();
      await this.ctx.conn.request("select_solution", request);
      this.unstage();
    }, { errorEl: error, cls: "btn primary", testid: "confirm-selection" });
    const el = h("div", { class: "confirm-bar", hidden: true, "data-testid": "selection-confirm" },
      summary,
      h("div", { class: "form-row" }, field("Comment", comment), field("Port agent", portAgent)),
      h("div", { class: "btn-group" }, confirmButton,
        h("button", { type: "button", class: "btn ghost", onclick: () => this.unstage() }, "Back")),
      error);
    return { el, summary, comment, portAgent, error };
  }

  stage(staged) {
    this.staged = staged;
    const c = this.confirm;
    clearError(c.error);
    c.summary.textContent = `Select ${staged.label}: total ${money(staged.sol.total_price)} USD` +
      `${staged.sol.valid === false ? " (does not cover every product)" : ""}. This closes the auction.`;
    if (!c.portAgent.value && this.auction.view.port_agent) c.portAgent.value = this.auction.view.port_agent;
    c.el.hidden = false;
    c.el.scrollIntoView({ block: "nearest" });
  }

  unstage() {
    this.staged = null;
    this.confirm.el.hidden = true;
  }

  // --- side panels ----------------------------------------------------------------------------

  renderSuppliers(view) {
    const rsvp = new Map((view.rsvp || []).map((r) => [r.supplier.id, r.response]));
    const rows = (view.suppliers || []).map((s) => h("li", {},
      h("span", {}, s.name), " ", h("span", { class: "muted" }, s.id !== s.name ? `(${s.id})` : ""), " ",
      rsvp.has(s.id) ? h("span", { class: `badge rsvp-${rsvp.get(s.id)}` }, rsvp.get(s.id)) : null));
    fill(this.side.suppliers, rows.length ? h("ul", { class: "plain" }, rows)
      : h("p", { class: "muted" }, this.role === "observer" ? "Hidden from observers." : "No supplier invited."));
  }

  renderBarges(view) {
    const error = errorLine();
    const final = FINAL.includes(view.status) || this.role === "observer";
    const rows = view.barges.map((b) => h("li", { "data-testid": "barge" },
      h("span", {}, `${b.barge.name} (IMO ${b.barge.imo})`), " ",
      h("span", { class: "muted" }, `from ${b.supplier.name}`), " ",
      h("span", { class: `badge barge-${b.status}`, "data-testid": "barge-status" }, b.status), " ",
      final ? null : h("span", { class: "btn-group" },
        b.status !== "approved" ? actionButton("Approve", () => this.ctx.conn.request("approve_barge",
          { auction_id: this.auctionId, imo: b.barge.imo, supplier_id: b.supplier.id }),
        { errorEl: error, cls: "btn small" }) : null,
        b.status !== "rejected" ? actionButton("Reject", () => this.ctx.conn.request("reject_barge",
          { auction_id: this.auctionId, imo: b.barge.imo, supplier_id: b.supplier.id }),
        { errorEl: error, cls: "btn small ghost" }) : null)));
    fill(this.side.barges, rows.length ? h("ul", { class: "plain" }, rows)
      : h("p", { class: "muted" }, "No barges submitted."), error);
  }

  renderComments(view) {
    const rows = view.comments.map((c) => h("li", {},
      h("strong", {}, c.supplier.name), ": ", `“${c.text}”`, " ", h("time", { class: "muted" }, time(c.at))));
    fill(this.side.comments, rows.length ? h("ul", { class: "plain", "data-testid": "comments" }, rows)
      : h("p", { class: "muted" }, "No comments."));
  }
}

function solutionCard(title, sol, index, { testid, select, cls, extra } = {}) {
  if (!sol || !sol.bid_ids || !sol.bid_ids.length) {
    return h("div", { class: `solution empty ${cls || ""}`, "data-testid": testid },
      h("h3", {}, title), h("p", { class: "muted" }, "No offer yet."));
  }
  const lines = sol.bid_ids.map((id) => {
    const found = index.get(id);
    if (!found) return h("tr", {}, h("td", { colspan: 3 }, id));
    return h("tr", {},
      h("td", {}, productLabel(found.product)),
      h("td", {}, found.bid.supplier ? found.bid.supplier.name : ""),
      h("td", { class: "num amount" }, money(found.bid.amount)));
  });
  return h("div", { class: `solution ${cls || ""}`, "data-testid": testid },
    h("div", { class: "sol-head" }, h("h3", {}, title),
      h("span", { class: "sol-total" }, money(sol.total_price), h("small", {}, " USD"))),
    sol.valid ? null : h("p", { class: "warn-text" }, "Does not cover every product."),
    h("table", { class: "sol-lines" }, h("tbody", {}, lines)),
    extra ? h("dl", { class: "facts", "data-testid": `${testid}-details` },
      extra.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : null,
    select ? h("button", { type: "button", class: "btn primary", "data-testid": `${testid}-select`, onclick: select }, `Select ${title.toLowerCase()}`) : null);
}

function bannerText(view, role) {
  switch (view.status) {
    case "draft": return "Draft: not visible to suppliers until it is scheduled.";
    case "pending": return `Scheduled: bidding opens ${dateTime(view.scheduled_start)}.`;
    case "open":
      if (role === "observer") return "Bidding is open.";
      return view.kind === "spot"
        ? "Bidding is open. You choose the winner once bidding closes."
        : "Bidding is open. You may select a solution at any time.";
    case "decision": return role === "observer" ? "Bidding closed; the buyer is deciding."
      : `Bidding closed: choose the winning offer by ${time(view.decision_closes_at)}.`;
    case "closed": return "Closed: a winning offer was selected.";
    case "expired": return role === "admin" ? "Expired without a selection: as an admin you may still select."
      : "Expired: no offer was selected in time.";
    case "canceled": return "Canceled.";
    default: return view.status;
  }
}

function selectHint(view, role) {
  if (view.status === "open") return "You can select once bidding closes.";
  if (view.status === "pending" || view.status === "draft") return "Solutions appear as suppliers bid.";
  if (view.status === "expired" && role !== "admin") return "The decision time has passed.";
  return "";
}
