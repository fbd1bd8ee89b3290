// The audit log (`get_events`): every event of an auction as the buyer or an admin may see it.

import { actionButton, errorLine, fill, h, section } from "./dom.js";
import { describeEvent } from "./common.js";
import { readEvents } from "./eventlog.js";
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
    const [, companies] = await Promise.all([
      readEvents(this.ctx.conn, this.auctionId, 0, (e) => events.push(e)), companyNames(this.ctx.conn)]);
    this.events = events;
    this.companies = companies;
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
      h("td", {}, byText(e.by, view, this.ctx.model.me, this.companies)),
      h("td", {}, describeEvent(e, view, null))));
    fill(this.body, h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Audit log, scrolls sideways" },
      h("table", { class: "audit", "data-testid": "audit-log" },
        h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Seq"), h("th", {}, "At"), h("th", {}, "Event"),
          h("th", {}, "By"), h("th", {}, "What"))),
        h("tbody", {}, rows))),
    h("p", { class: "muted" }, `${this.events.length} events`));
  }
}

/** Company id -> name of every company `list_companies` shows (buyers and admins; empty when
 * refused), for the companies the view does not name (e.g. an admin acting). */
async function companyNames(conn) {
  const names = new Map();
  try {
    let cursor;
    for (let page = 0; page < 20; page += 1) {
      const reply = await conn.request("list_companies", cursor ? { cursor } : {});
      for (const c of reply.companies || []) names.set(c.id, c.name);
      cursor = reply.next_cursor;
      if (!cursor) break;
    }
  } catch (err) {
    console.warn("list_companies failed", err);
  }
  return names;
}

/** Who acted, by name: the company (and "you" for this user); the ids stay in the tooltip. */
function byText(by, view, me, companies) {
  if (!by) return h("span", { class: "muted" }, "system (clock)");
  const company = (view.suppliers || []).find((s) => s.id === by.company_id);
  let name = company ? company.name : (companies && companies.get(by.company_id)) || "an admin";
  if (view.buyer && view.buyer.id === by.company_id) name = `${view.buyer.name} (buyer)`;
  if (me && me.company.id === by.company_id) name = me.company.name;
  const who = me && me.user.id === by.user_id ? `you, ${name}` : name;
  const text = by.admin_id ? `${who}, by an admin${me && me.user.id === by.admin_id ? " (you)" : ""}` : who;
  return h("span", { title: `user ${by.user_id}${by.admin_id ? `, admin ${by.admin_id}` : ""}` }, text);
}
