// The operator's screen (admins): actors live, passivated, restarting, quarantined; restarts;
// connections; troubled auctions with a revive button.

import { actionButton, clearError, errorLine, fill, h, section, showError } from "./dom.js";

const REFRESH_MS = 5000;

export class OperatorScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.timer = null;
  }

  mount(root) {
    this.error = errorLine("operator-error");
    this.body = h("div", { "data-testid": "operator" }, h("p", { class: "muted" }, "Loading…"));
    this.stamp = h("span", { class: "muted" });
    root.append(h("div", { class: "list-head" }, h("h1", {}, "Operator status"),
      h("div", { class: "btn-group" }, this.stamp,
        actionButton("Refresh", () => this.load(), { errorEl: this.error, cls: "btn ghost", testid: "operator-refresh" }))),
    this.error, this.body);
    this.load();
    this.timer = setInterval(() => this.load(), REFRESH_MS);
  }

  unmount() {
    clearInterval(this.timer);
  }

  update() {}

  async load() {
    try {
      const status = await this.ctx.conn.request("operator_status");
      clearError(this.error);
      this.render(status);
      this.stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (err.code !== "offline") showError(this.error, err);
    }
  }

  render(status) {
    const actors = status.actors || {};
    const tile = (label, value, cls) => h("div", { class: `tile ${cls || ""}`, "data-testid": `tile-${label.toLowerCase()}` },
      h("span", { class: "tile-value" }, String(value ?? 0)), h("span", { class: "tile-label" }, label));
    const troubled = status.troubled || [];
    fill(this.body,
      h("div", { class: "tiles" },
        tile("Live", actors.live),
        tile("Passivated", actors.passivated),
        tile("Restarting", actors.restarting, actors.restarting ? "warn" : ""),
        tile("Quarantined", actors.quarantined, actors.quarantined ? "bad" : ""),
        tile("Restarts", status.restarts),
        tile("Connections", status.connections)),
      section("Troubled auctions",
        troubled.length ? h("table", { class: "troubled", "data-testid": "troubled" },
          h("thead", {}, h("tr", {}, h("th", {}, "Auction"), h("th", {}, "Status"), h("th", { class: "num" }, "Restarts"),
            h("th", { class: "num" }, "Mailbox"), h("th", {}, "Last error"), h("th", {}, ""))),
          h("tbody", {}, troubled.map((t) => h("tr", {},
            h("td", {}, h("a", { href: `#/auction/${encodeURIComponent(t.auction_id)}` }, t.auction_id)),
            h("td", {}, h("span", { class: `badge actor-${t.status}` }, t.status)),
            h("td", { class: "num" }, String(t.restarts)),
            h("td", { class: "num" }, String(t.mailbox)),
            h("td", { class: "error-text" }, t.last_error || ""),
            h("td", {}, t.status === "quarantined" ? actionButton("Revive", async () => {
              await this.ctx.conn.request("operator_revive", { auction_id: t.auction_id });
              await this.load();
            }, { errorEl: this.error, cls: "btn small primary", testid: "revive" }) : null)))))
          : h("p", { class: "muted" }, "None: every auction's actor is healthy.")));
  }
}
