// The audit log (`get_events`): every event of an auction as the buyer or an admin may see it.

import { actionButton, errorLine, fill, h, section } from "./dom.js";
import { describeEvent } from "./common.js";
import { readEvents } from "./events.js";
import { time } from "./format.js";

export class AuditLog {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    this.events = [];
    this.loaded = false;
    this.body = h("div", { class: "audit-body" });
    this.error = errorLine("audit-error");
    this.el = section("Audit log",
      h("div", { class: "btn-group" },
        actionButton("Load audit log", () => this.load(), { errorEl: this.error, cls: "btn", testid: "load-audit" })),
      this.error, this.body);
  }

  async load() {
    const events = [];
    await readEvents(this.ctx.conn, this.auctionId, 0, (e) => events.push(e));
    this.events = events;
    this.loaded = true;
    this.render();
  }

  render() {
    const auction = this.ctx.model.get(this.auctionId);
    if (!this.loaded || !auction) return;
    const view = auction.view;
    const rows = this.events.map((e) => h("tr", { "data-seq": e.seq },
      h("td", { class: "num" }, String(e.seq)),
      h("td", { class: "when" }, e.at ? time(e.at) : ""),
      h("td", {}, h("code", {}, e.type)),
      h("td", {}, byText(e.by, view, this.ctx.model.me)),
      h("td", {}, describeEvent(e, view, null))));
    fill(this.body, h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Audit log, scrolls sideways" },
      h("table", { class: "audit", "data-testid": "audit-log" },
        h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Seq"), h("th", {}, "At"), h("th", {}, "Event"),
          h("th", {}, "By"), h("th", {}, "What"))),
        h("tbody", {}, rows))),
    h("p", { class: "muted" }, `${this.events.length} events`));
  }
}

function byText(by, view, me) {
  if (!by) return h("span", { class: "muted" }, "system");
  const company = (view.suppliers || []).find((s) => s.id === by.company_id);
  let name = company ? company.name : by.company_id;
  if (view.buyer && view.buyer.id === by.company_id) name = view.buyer.name;
  if (me && me.company.id === by.company_id) name = me.company.name;
  const who = `${by.user_id} (${name})`;
  return by.admin_id ? `${who}, by admin ${by.admin_id}` : who;
}
