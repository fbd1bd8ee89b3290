// Pieces every auction screen shows: the header with its countdown, product facts, the activity
// feed, the details panel.

import { h, section } from "./dom.js";
import { knownEvent } from "./eventlog.js";
import {
  KIND_LABELS, countdown, dateTime, deadlineOf, duration, money, parseTime, productLabel,
  quantity, statusLabel, time, zone,
} from "./format.js";

export const EXTENDED_FLASH_MS = 6000;

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, "data-testid": "status" }, statusLabel(status));
}

/** The countdown block; `updateCountdown` refreshes it, the page's ticker moves its value. */
export function countdownBlock() {
  // The ticking value is a timer (not read out each second); what it counts to is announced
  // politely when it changes (an extension, the next phase), in words, by a visually hidden line.
  return h("div", { class: "countdown", "data-testid": "countdown", hidden: true },
    h("span", { class: "cd-label" }),
    h("span", { class: "cd-value", "data-testid": "countdown-value", role: "timer" }),
    h("span", { class: "cd-at" }),
    h("span", { class: "cd-flag", "data-testid": "extended-flag" }, "Extended"),
    h("span", { class: "sr-only", "aria-live": "polite", "data-testid": "countdown-announce" }));
}

export function updateCountdown(el, auction) {
  const view = auction.view;
  const deadline = deadlineOf(view);
  if (!deadline || !deadline.at) {
    el.hidden = true;
    delete el.dataset.deadline;
    return;
  }
  el.hidden = false;
  el.dataset.deadline = deadline.at;
  el.dataset.auction = auction.id;
  el.dataset.softClose = view.status === "open" ? String(view.soft_close_s ?? 0) : "0";
  el.dataset.status = view.status;
  el.querySelector(".cd-label").textContent = deadline.label;
  el.querySelector(".cd-at").textContent = `at ${time(deadline.at)}`;
  const announce = el.querySelector(".sr-only");
  if (announce && announce.dataset.at !== deadline.at) {
    const extended = announce.dataset.status === "open" && view.status === "open";
    announce.textContent = extended ? `Bidding extended: it now closes at ${time(deadline.at)}`
      : `${deadline.label.replace(/ in$/, "")} at ${time(deadline.at)}`;
    announce.dataset.at = deadline.at;
    announce.dataset.status = view.status;
  }
}

/** Called by the page's ticker (4 times a second) for every visible countdown. */
export function tickCountdown(el, model) {
  const at = parseTime(el.dataset.deadline);
  if (Number.isNaN(at)) return;
  const left = at - model.clock.now();
  const value = el.querySelector(".cd-value");
  const text = countdown(left);
  if (value.textContent !== text) value.textContent = text;
  const softClose = Number(el.dataset.softClose || 0) * 1000;
  el.classList.toggle("urgent", left <= 60000);
  el.classList.toggle("soft-close", softClose > 0 && left <= softClose);
  const auction = model.get(el.dataset.auction || "");
  const extended = auction && el.dataset.status === "open" && Date.now() - auction.extendedAt < EXTENDED_FLASH_MS;
  el.classList.toggle("extended", Boolean(extended));
}

/** The auction's title block: port, kind, buyer, status; the countdown is passed in. */
export function auctionHead(view, countdownEl, actions) {
  const names = view.products.map(productLabel);
  return h("div", { class: "auction-head" },
    h("div", { class: "title" },
      h("h1", {}, view.port, " ", h("span", { class: "kind" }, KIND_LABELS[view.kind] || view.kind)),
      h("p", { class: "sub" },
        statusBadge(view.status), " ",
        h("span", { class: "head-products" }, names.join(" · ")),
        view.buyer && view.buyer.name ? h("span", { class: "muted" }, ` · buyer ${view.buyer.name}`) : null)),
    countdownEl,
    actions ? h("div", { class: "head-actions" }, actions) : null);
}

export function productFacts(product) {
  return h("div", { class: "product-facts" },
    product.vessel && product.vessel.imo ? h("span", {}, `IMO ${product.vessel.imo}`) : null,
    h("span", {}, quantity(product)),
    product.eta ? h("span", {}, `ETA ${dateTime(product.eta)}`) : null,
    product.etd ? h("span", {}, `ETD ${dateTime(product.etd)}`) : null,
    product.fuel_index ? h("span", {}, `Index ${product.fuel_index}`) : null);
}

/** When bidding opened: the `auction_started` event (an admin's "Start now" opens it before
 * the scheduled start, which the view still carries), looked up once when not received. */
export function openedAt(ctx, auction) {
  if (["draft", "pending"].includes(auction.view.status)) return null;
  const started = knownEvent(ctx, auction, "auction_started");
  return started ? started.at : null;
}

/** Auction facts: schedule, durations, tick, free text; `opened` is when bidding opened. */
export function detailsPanel(view, opened) {
  const early = ["draft", "pending"].includes(view.status);
  const rows = [
    ["Auction", view.auction_id],
    early ? ["Start", view.scheduled_start ? dateTime(view.scheduled_start) : "not scheduled (draft)"]
      : ["Opened", opened ? dateTime(opened) : "…"],
    ["Bidding", duration(view.duration_s)],
    ["Soft close", view.soft_close_s ? `last ${duration(view.soft_close_s)}` : "off"],
    ["Decision", duration(view.decision_duration_s)],
    ["Tick", `${money(view.tick)} USD/MT`],
    view.anonymous_bidding ? ["Suppliers", "anonymous (shown as aliases)"] : null,
    view.traded_bids_allowed ? ["Traded bids", "allowed"] : null,
    view.po ? ["PO", view.po] : null,
    view.buyer_reference ? ["Reference", view.buyer_reference] : null,
    view.port_agent ? ["Port agent", view.port_agent] : null,
    view.additional_information ? ["Notes", view.additional_information] : null,
    ["Times", `your zone, ${zone}`],
  ].filter(Boolean);
  return section("Details", h("dl", { class: "facts" },
    rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

/** Who acted in an event, as this receiver may know it. */
function actor(event, view, me) {
  const data = event.data || {};
  if (me && (data.supplier_id === me || (event.by && event.by.company_id === me))) return "You";
  if (data.supplier && data.supplier.name) return data.supplier.name;
  if (data.supplier_id && view.suppliers) {
    const known = view.suppliers.find((s) => s.id === data.supplier_id);
    if (known) return known.name;
  }
  if (data.supplier_id) return data.supplier_id;
  return me ? "A competitor" : "A supplier";
}

/** One line for people about an event. */
export function describeEvent(event, view, me) {
  const data = event.data || {};
  const products = new Map(view.products.map((p) => [p.product_id, p]));
  const product = data.product_id ? productLabel(products.get(data.product_id)) : "";
  const who = actor(event, view, me);
  switch (event.type) {
    case "auction_created": return "Auction created";
    case "auction_updated": return "Auction details changed";
    case "auction_started": return `Bidding opened; closes at ${time(data.closes_at)}`;
    case "bid_placed":
    case "auto_bid_placed": {
      const auto = data.is_auto || event.type === "auto_bid_placed";
      const what = data.amount ? money(data.amount) : "";
      const floor = data.min_amount ? ` (floor ${money(data.min_amount)})` : "";
      return `${who} ${auto ? "auto-bid" : "bid"} ${what}${floor} on ${product}`.replace("  ", " ");
    }
    case "auto_bid_triggered": {
      const whose = who === "You" ? "Your auto-bid" : who === "A competitor" ? "A competitor's auto-bid" : `Auto-bid of ${who}`;
      return `${whose} moved to ${money(data.amount)} on ${product}`;
    }
    case "bids_revoked": return `${who} revoked the bid on ${product}`;
    case "duration_extended": return `Soft close: bidding extended to ${time(data.closes_at)}`;
    case "auction_ended": return `Bidding closed; decision due by ${time(data.decision_closes_at)}`;
    case "auction_expired": return "No offer was selected in time; the auction expired";
    case "auction_canceled": return "The auction was canceled";
    case "winning_solution_selected":
      return `Winning offer selected${data.total_price ? ` (total ${money(data.total_price)})` : ""}`;
    case "auction_closed": return "Auction closed";
    case "barge_submitted": return `${who} submitted barge ${data.barge ? data.barge.name : ""}`;
    case "barge_unsubmitted": return `${who} withdrew barge ${bargeName(view, data.imo)}`;
    case "barge_approved":
    case "barge_rejected": {
      const verdict = event.type === "barge_approved" ? "approved" : "rejected";
      const barge = bargeName(view, data.imo);
      return who === "You" ? `Your barge ${barge} was ${verdict}` : `Barge ${barge} of ${who} ${verdict}`;
    }
    case "comment_posted": return `${who} commented: “${data.text}”`;
    case "comment_deleted": return `${who} deleted a comment`;
    case "rsvp_given": return `${who} answered ${data.response}`;
    case "observer_invited": return "An observer was invited";
    case "observer_uninvited": return "An observer was removed";
    case "redacted": return "Something you cannot see";
    default: return event.type;
  }
}

function bargeName(view, imo) {
  const found = (view.barges || []).find((b) => b.barge.imo === imo);
  return found ? `${found.barge.name} (IMO ${imo})` : `IMO ${imo}`;
}

/** The events received since the page opened, newest first. */
export function activityPanel(auction, me) {
  const list = h("ol", { class: "activity", "data-testid": "activity", reversed: true });
  const events = auction.events.slice(-60).reverse();
  for (const event of events) {
    list.append(h("li", { "data-seq": event.seq, class: event.type === "redacted" ? "muted" : null },
      h("span", { class: "seq" }, `#${event.seq}`), " ",
      event.at ? h("time", { datetime: event.at }, time(event.at)) : null, " ",
      describeEvent(event, auction.view, me)));
  }
  if (!events.length) list.append(h("li", { class: "muted" }, "Nothing yet since you opened the page."));
  return section("Activity", list);
}

/**
 * Every bid this receiver can see, by id: live bids (and history, in protocol-1 views), with
 * their product. Protocol-2 views carry no history: a solution naming a bid that is no longer
 * live shows its id only (issue 12 redoes the page; the history is read with get_events).
 */
export function bidIndex(view) {
  const index = new Map();
  for (const product of view.products) {
    for (const bid of product.history || []) index.set(bid.bid_id, { bid, product });
    for (const bid of product.bids || []) index.set(bid.bid_id, { bid, product });
  }
  return index;
}

const GOOD_LINE = /best overall offer|You won/;
const BAD_LINE = /not the best|unsuccessful|No offer|canceled/;
const ATTENTION_LINE = /partial offer|matches the best|have not bid/;

/** How a supplier's status line reads: "good", "bad", "attention" or "neutral". */
export function lineTone(line) {
  if (GOOD_LINE.test(line)) return "good";
  if (BAD_LINE.test(line)) return "bad";
  if (ATTENTION_LINE.test(line)) return "attention";
  return "neutral";
}
