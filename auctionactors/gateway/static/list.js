// The auctions this user may see, live: status, countdown and, for a supplier, where it stands.

import { fill, h } from "./dom.js";
import { statusBadge } from "./common.js";
import { KIND_LABELS, dateTime, deadlineOf, productLabel, time } from "./format.js";

const GROUPS = [
  ["Live", ["open", "decision"]],
  ["Upcoming", ["pending", "draft"]],
  ["Finished", ["closed", "expired", "canceled"]],
];

export class ListScreen {
  constructor(ctx) {
    this.ctx = ctx;
  }

  mount(root) {
    const role = this.ctx.model.me.company.role;
    this.body = h("div", { class: "auction-list", "data-testid": "auction-list" });
    root.append(h("div", { class: "list-head" },
      h("h1", {}, role === "admin" ? "All auctions" : "Your auctions"),
      role === "buyer" || role === "admin" ? h("a", { class: "btn primary", href: "#/new", "data-testid": "new-auction" }, "New auction") : null),
    this.body);
    this.update();
  }

  unmount() {}

  update() {
    const auctions = this.ctx.model.list();
    const role = this.ctx.model.me.company.role;
    if (!auctions.length) {
      fill(this.body, h("p", { class: "empty-state" }, this.ctx.loading ? "Loading…"
        : role === "supplier" ? "No auction has invited you yet. New invitations appear here by themselves."
          : role === "buyer" ? "No auctions yet. Create one with “New auction”." : "No auctions."));
      return;
    }
    const parts = [];
    for (const [title, statuses] of GROUPS) {
      const group = auctions.filter((a) => statuses.includes(a.view.status)).sort(order);
      if (!group.length) continue;
      parts.push(h("h2", { class: "group" }, title, h("span", { class: "count" }, String(group.length))));
      parts.push(h("ul", { class: "cards" }, group.map((a) => card(a, role))));
    }
    fill(this.body, parts);
  }
}

function sortTime(view) {
  const d = deadlineOf(view);
  return (d && d.at) || view.closes_at || view.scheduled_start || "";
}

function order(a, b) {
  return sortTime(a.view) < sortTime(b.view) ? -1 : 1;
}

function card(auction, role) {
  const view = auction.view;
  const deadline = deadlineOf(view);
  const line = view.status_line;
  return h("li", { class: `card status-${view.status}`, "data-testid": "auction-card", "data-auction": auction.id },
    h("a", { href: `#/auction/${encodeURIComponent(auction.id)}`, class: "card-link" },
      h("div", { class: "card-main" },
        h("div", { class: "card-title" }, h("strong", {}, view.port), " ",
          h("span", { class: "kind" }, KIND_LABELS[view.kind] || view.kind), " ", statusBadge(view.status)),
        h("div", { class: "card-products" }, view.products.map(productLabel).join(" · ")),
        role !== "buyer" && view.buyer ? h("div", { class: "muted" }, `Buyer: ${view.buyer.name}`) : null,
        line ? h("div", { class: "card-line", "data-testid": "card-status-line" }, line) : null),
      h("div", { class: "card-time" },
        deadline && deadline.at
          ? h("div", { class: "countdown small", "data-deadline": deadline.at, "data-auction": auction.id,
            "data-soft-close": view.status === "open" ? String(view.soft_close_s || 0) : "0", "data-status": view.status },
          h("span", { class: "cd-label" }, deadline.label),
          h("span", { class: "cd-value", "data-testid": "countdown-value" }, ""),
          h("span", { class: "cd-at" }, `at ${time(deadline.at)}`))
          : h("div", { class: "muted" }, view.scheduled_start ? `Start ${dateTime(view.scheduled_start)}` : "not scheduled"))));
}
