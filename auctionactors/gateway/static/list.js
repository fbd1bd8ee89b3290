// The auctions this user may see. Live and upcoming ones are followed live (`subscribe_all`,
// the model): status, countdown and, for a supplier, where it stands. Finished ones are read page
// by page (finished.js: newest first, "Load more" or scrolling down), each card with its outcome
// as the viewer may see it: winners and total for the buyer and admins (the selected solution of
// their view), the status line for a supplier; lines coloured by meaning (good, bad, attention).
// Cards are rebuilt only when their view changed, so an update costs one card, not the list.

import { clearError, errorLine, fill, h, showError } from "./dom.js";
import { bidIndex, lineTone, statusBadge } from "./common.js";
import { FINISHED, finishedOf } from "./finished.js";
import { KIND_LABELS, dateTime, deadlineOf, money, productLabel, time } from "./format.js";

const GROUPS = [
  ["Live", ["open", "decision"]],
  ["Upcoming", ["pending", "draft"]],
];

export class ListScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.cards = new Map(); // auction id -> {view, el}
    this.finished = finishedOf(ctx.conn);
    this.onFinished = () => this.schedule();
    this.observer = null;
    this.queued = false;
  }

  mount(root) {
    const role = this.ctx.model.me.company.role;
    this.body = h("div", { class: "auction-list", "data-testid": "auction-list" });
    this.error = errorLine("list-error");
    this.more = h("button", { type: "button", class: "btn ghost", "data-testid": "load-more", onclick: () => this.loadMore() },
      "Load more finished auctions");
    this.moreNote = h("p", { class: "muted list-more-note", "data-testid": "finished-end" });
    this.foot = h("div", { class: "list-foot" }, this.error, this.more, this.moreNote);
    root.append(h("div", { class: "list-head" },
      h("h1", {}, role === "admin" ? "All auctions" : "Your auctions"),
      role === "buyer" || role === "admin" ? h("a", { class: "btn primary", href: "#/new", "data-testid": "new-auction" }, "New auction") : null),
    this.body, this.foot);
    this.finished.addEventListener("change", this.onFinished);
    if (!this.finished.started) this.loadMore();
    // Scrolling down to the button reads the next page (the button stays for the keyboard).
    if ("IntersectionObserver" in window) {
      this.observer = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) this.nearEnd();
      }, { rootMargin: "200px" });
      this.observer.observe(this.more);
    }
    this.update();
  }

  unmount() {
    this.finished.removeEventListener("change", this.onFinished);
    if (this.observer) this.observer.disconnect();
  }

  /**
   * The button came near the screen: read the next page if it is still there once what was read
   * is drawn (it may be in view only because the cards of the page just read are not drawn yet).
   */
  nearEnd() {
    requestAnimationFrame(() => {
      if (this.queued || this.finished.loading || this.finished.done || this.finished.error) return;
      if (this.more.getBoundingClientRect().top < window.innerHeight + 200) this.loadMore();
    });
  }

  async loadMore() {
    await this.finished.more();
    if (this.finished.error) showError(this.error, this.finished.error);
    else clearError(this.error);
  }

  schedule() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.update();
    });
  }

  /**
   * Every finished auction known, newest first: those that finished while followed (the model)
   * and are not on a page read yet, latest bidding end first, then the pages in the server's
   * order (newest first); a followed auction shows its live view.
   */
  finishedViews() {
    const followed = new Map();
    for (const a of this.ctx.model.list()) if (FINISHED.includes(a.view.status)) followed.set(a.id, a.view);
    const paged = this.finished.rows.map((row) => [row.auction_id,
      followed.get(row.auction_id) || this.finished.views.get(row.auction_id) || placeholder(row)]);
    const listed = new Set(paged.map(([id]) => id));
    const recent = [...followed.entries()].filter(([id]) => !listed.has(id))
      .sort(([, a], [, b]) => (endTime(a) < endTime(b) ? 1 : endTime(a) > endTime(b) ? -1 : 0));
    return [...recent, ...paged];
  }

  update() {
    if (!this.body) return;
    const role = this.ctx.model.me.company.role;
    const live = this.ctx.model.list().filter((a) => !FINISHED.includes(a.view.status));
    const finished = this.finishedViews();
    const parts = [];
    const used = new Set();
    const cardOf = (id, view) => {
      used.add(id);
      let known = this.cards.get(id);
      if (!known || known.view !== view) {
        known = { view, el: card(id, view, role) };
        this.cards.set(id, known);
      }
      return known.el;
    };
    for (const [title, statuses] of GROUPS) {
      const group = live.filter((a) => statuses.includes(a.view.status)).sort(order);
      if (!group.length) continue;
      parts.push(h("h2", { class: "group" }, title, h("span", { class: "count" }, String(group.length))));
      parts.push(h("ul", { class: "cards" }, group.map((a) => cardOf(a.id, a.view))));
    }
    if (finished.length) {
      const count = `${finished.length}${this.finished.done ? "" : "+"}`;
      parts.push(h("h2", { class: "group" }, "Finished", h("span", { class: "count" }, count), h("span", { class: "group-note" }, "newest first")));
      parts.push(h("ul", { class: "cards", "data-testid": "finished-cards" }, finished.map(([id, view]) => cardOf(id, view))));
    }
    for (const id of this.cards.keys()) if (!used.has(id)) this.cards.delete(id);
    const loading = this.ctx.loading || (!this.finished.done && !this.finished.error && !this.finished.rows.length);
    if (!parts.length) {
      parts.push(h("p", { class: "empty-state" }, loading ? "Loading…"
        : role === "supplier" ? "No auction has invited you yet. New invitations appear here by themselves."
          : role === "buyer" ? "No auctions yet. Create one with “New auction”." : "No auctions."));
    }
    fill(this.body, parts);
    this.more.hidden = this.finished.done;
    this.more.disabled = Boolean(this.finished.loading);
    this.more.textContent = this.finished.loading ? "Loading…" : "Load more finished auctions";
    this.moreNote.hidden = !(this.finished.done && finished.length);
    this.moreNote.textContent = "No older finished auctions.";
  }
}

// A summary standing in for a view until it is read (one object per row: its card is kept).
const placeholders = new WeakMap();

function placeholder(row) {
  if (!placeholders.has(row)) placeholders.set(row, { ...row, summary: true });
  return placeholders.get(row);
}

function sortTime(view) {
  const d = deadlineOf(view);
  return (d && d.at) || view.closes_at || view.scheduled_start || "";
}

function order(a, b) {
  return sortTime(a.view) < sortTime(b.view) ? -1 : 1;
}

/** When a finished auction's bidding ended (else its start): what the summaries say too. */
function endTime(view) {
  return view.closes_at || view.scheduled_start || "";
}

/** What the card says of where the auction stands, as this viewer may see it: [text, tone]. */
function outcome(view) {
  if (view.summary) return view.status === "canceled" ? ["Canceled", "bad"] : ["", ""];
  if (view.status_line) return [view.status_line, lineTone(view.status_line)]; // a supplier
  const sols = view.solutions || {};
  if (sols.winning && sols.winning.bid_ids && sols.winning.bid_ids.length) {
    const index = bidIndex(view);
    const names = [...new Set(sols.winning.bid_ids.map((id) => index.get(id))
      .filter(Boolean).map((found) => (found.bid.supplier ? found.bid.supplier.name : "?")))];
    const who = names.length ? `Awarded to ${names.join(", ")}` : "Awarded";
    return [`${who} · total ${money(sols.winning.total_price)} USD`, "good"];
  }
  switch (view.status) {
    case "expired": return ["Expired: no offer was selected", "bad"];
    case "canceled": return ["Canceled", "bad"];
    case "closed": return ["Closed", "neutral"];
    case "decision": return view.decision_closes_at
      ? [`Bidding closed: the winner is chosen by ${time(view.decision_closes_at)}`, "attention"] : ["", ""];
    case "open": return sols.best_overall && sols.best_overall.bid_ids && sols.best_overall.bid_ids.length
      ? [`Best offer so far: ${money(sols.best_overall.total_price)} USD`, "neutral"] : ["No offers yet", "neutral"];
    default: return ["", ""];
  }
}

function endLabel(view) {
  if (view.status === "canceled" || !view.closes_at) {
    return view.scheduled_start ? `Was to start ${dateTime(view.scheduled_start)}` : "Never scheduled";
  }
  return `Bidding closed ${dateTime(view.closes_at)}`;
}

function card(id, view, role) {
  const deadline = FINISHED.includes(view.status) ? null : deadlineOf(view);
  const [line, tone] = outcome(view);
  const ended = FINISHED.includes(view.status);
  return h("li", { class: `card status-${view.status}`, "data-testid": "auction-card", "data-auction": id },
    h("a", { href: `#/auction/${encodeURIComponent(id)}`, class: "card-link" },
      h("div", { class: "card-main" },
        h("div", { class: "card-title" }, h("strong", {}, view.port), " ",
          h("span", { class: "kind" }, KIND_LABELS[view.kind] || view.kind), " ", statusBadge(view.status)),
        view.products ? h("div", { class: "card-products" }, view.products.map(productLabel).join(" · ")) : null,
        role !== "buyer" && view.buyer ? h("div", { class: "muted" }, `Buyer: ${view.buyer.name}`) : null,
        line ? h("div", { class: `card-line ${tone}`, "data-testid": "card-status-line", "data-tone": tone }, line) : null),
      h("div", { class: "card-time" },
        deadline && deadline.at
          ? h("div", { class: "countdown small", "data-deadline": deadline.at, "data-auction": id,
            "data-soft-close": view.status === "open" ? String(view.soft_close_s || 0) : "0", "data-status": view.status },
          h("span", { class: "cd-label" }, deadline.label),
          h("span", { class: "cd-value", "data-testid": "countdown-value" }, ""),
          h("span", { class: "cd-at" }, `at ${time(deadline.at)}`))
          : h("div", { class: "muted" }, ended ? endLabel(view)
            : view.scheduled_start ? `Start ${dateTime(view.scheduled_start)}` : "not scheduled"))));
}
