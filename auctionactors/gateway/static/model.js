// What the page knows: each visible auction's latest view, its seq and the events received,
// and the server's clock as seen from here.

import { parseTime } from "./format.js";

const MAX_EVENTS = 400;
const SKEW_WINDOW_MS = 60000;

/**
 * The server's time, estimated from `server_time` samples: offset = server − local at arrival.
 * A sample can only be late (network delay), never early, so the largest recent offset is the
 * best estimate; samples older than a minute are dropped so that a stepped clock is followed.
 */
export class ServerClock {
  constructor() {
    this.samples = [];
    this.offset = 0;
  }

  observe(serverTime) {
    const server = parseTime(serverTime);
    if (Number.isNaN(server)) return;
    const local = Date.now();
    this.samples.push([local, server - local]);
    this.samples = this.samples.filter(([at]) => local - at <= SKEW_WINDOW_MS);
    this.offset = Math.max(...this.samples.map(([, offset]) => offset));
  }

  now() {
    return Date.now() + this.offset;
  }
}

/** One auction as received: `view`, `seq`, `events` (those received, in order), `gaps`. */
class Auction {
  constructor(id) {
    this.id = id;
    this.view = null;
    this.seq = 0;
    this.events = [];
    this.gaps = 0;
    this.extendedAt = 0;
    this.gone = false;
  }
}

/** Events: "change" (detail: {auctionId}) after each applied update. */
export class Model extends EventTarget {
  constructor() {
    super();
    this.auctions = new Map();
    this.clock = new ServerClock();
    this.me = null; // the welcome's user and company
  }

  get(auctionId) {
    return this.auctions.get(auctionId) || null;
  }

  list() {
    return [...this.auctions.values()].filter((a) => a.view && !a.gone);
  }

  /** What to resume after a reconnection: every auction with the last seq applied. */
  subscriptions() {
    return [...this.auctions.values()].filter((a) => !a.gone && a.seq > 0).map((a) => [a.id, a.seq]);
  }

  /** Apply a pushed update; duplicates (seq already applied) are ignored, gaps counted. */
  apply(update) {
    let auction = this.auctions.get(update.auction_id);
    if (!auction) {
      auction = new Auction(update.auction_id);
      this.auctions.set(update.auction_id, auction);
    }
    if (update.seq <= auction.seq) return false;
    const events = update.events || [];
    if (auction.seq > 0) {
      const expected = auction.seq + 1;
      const first = events.length ? events[0].seq : update.seq + 1;
      if (first !== expected) auction.gaps += 1;
    }
    const before = auction.view;
    auction.events.push(...events);
    if (auction.events.length > MAX_EVENTS) auction.events.splice(0, auction.events.length - MAX_EVENTS);
    auction.view = update.view;
    auction.seq = update.seq;
    auction.gone = false;
    this.clock.observe(update.view.server_time);
    const extended = events.some((e) => e.type === "duration_extended") ||
      (before && before.status === "open" && update.view.status === "open" &&
        parseTime(update.view.closes_at) > parseTime(before.closes_at));
    if (extended) auction.extendedAt = Date.now();
    this.dispatchEvent(new CustomEvent("change", { detail: { auctionId: auction.id } }));
    return true;
  }

  /** The server ended a subscription: the auction is no longer visible to us. */
  forget(auctionId) {
    const auction = this.auctions.get(auctionId);
    if (!auction) return;
    auction.gone = true;
    this.dispatchEvent(new CustomEvent("change", { detail: { auctionId } }));
  }

  clear() {
    this.auctions.clear();
    this.clock = new ServerClock();
    this.me = null;
  }
}
