// What the page knows: each visible auction's latest view, its seq and the events received,
// and the server's clock as seen from here.
//
// Protocol 2: an update carries either the whole view (a subscription's first) or a JSON Patch
// against the previous one; the model follows that stream exactly (a view resets the base, a
// patch moves it on, even for a seq already shown, as when a resumed subscription overlaps) and
// shows only updates after the last seq shown. A patch that does not apply (no view yet, or one
// it does not fit) is a desync: the model says so ("desync") and the page subscribes again for a
// whole view. `history` frames (a catch-up far behind) join the events of the next update.
// Views carry no bid history in protocol 2 and no `server_time`: the clock takes its samples
// from the welcome, the updates' `server_time` (protocol 2: beside the patch or view; protocol 1:
// in the view), and else the times of the events received.

import { parseTime } from "./format.js";
import { applyPatch } from "./patch.js";

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
    this.base = null; // the view the next patch applies to (the server's latest, even if shown)
    this.seq = 0;
    this.events = [];
    this.history = []; // events of history frames, waiting for their update
    this.gaps = 0;
    this.extendedAt = 0;
    this.gone = false;
    // A patch did not apply and the page subscribed again: the patches still on their way are
    // dropped until the whole view comes (not one resubscription each).
    this.resyncing = false;
  }
}

/**
 * Events: "change" (detail: {auctionId}) after each applied update; "desync" (detail:
 * {auctionId, since}) when a patch cannot be applied: subscribe again after `since`.
 */
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

  _auction(auctionId) {
    let auction = this.auctions.get(auctionId);
    if (!auction) {
      auction = new Auction(auctionId);
      this.auctions.set(auctionId, auction);
    }
    return auction;
  }

  /** A history frame: its events join the next update's. */
  history(frame) {
    const auction = this._auction(frame.auction_id);
    for (const event of frame.events || []) if (event.seq > auction.seq) auction.history.push(event);
  }

  /** A new socket: the history frames of the last one will come again. */
  resumed() {
    for (const auction of this.auctions.values()) auction.history = [];
  }

  /**
   * Apply a pushed update (a whole view or a patch); duplicates (seq already applied) are not
   * shown again, gaps are counted. False when nothing changed on the page.
   */
  apply(update) {
    const auction = this._auction(update.auction_id);
    let view = update.view;
    if (view) {
      auction.base = view;
      auction.resyncing = false;
    } else if (update.patch) {
      if (auction.resyncing) return false;
      try {
        if (!auction.base) throw new Error("a patch without a view");
        view = auction.base = applyPatch(auction.base, update.patch);
      } catch (err) {
        console.warn(`${auction.id} seq ${update.seq}: the patch does not apply (${err.message}); resubscribing`);
        auction.base = null;
        auction.history = [];
        auction.resyncing = true;
        this.dispatchEvent(new CustomEvent("desync", { detail: { auctionId: auction.id, since: auction.seq } }));
        return false;
      }
    }
    if (!view || update.seq <= auction.seq) return false;
    const events = [...auction.history, ...(update.events || [])];
    auction.history = [];
    if (auction.seq > 0) {
      const expected = auction.seq + 1;
      const first = events.length ? events[0].seq : update.seq + 1;
      if (first !== expected) auction.gaps += 1;
    }
    const before = auction.view;
    auction.events.push(...events);
    if (auction.events.length > MAX_EVENTS) auction.events.splice(0, auction.events.length - MAX_EVENTS);
    auction.view = view;
    auction.seq = update.seq;
    auction.gone = false;
    // Protocol 2 sends `server_time` beside the patch or view, protocol 1 in the view.
    const serverTime = update.server_time || (update.view && update.view.server_time);
    if (serverTime) this.clock.observe(serverTime);
    else if (events.length && events[events.length - 1].at) this.clock.observe(events[events.length - 1].at);
    const extended = events.some((e) => e.type === "duration_extended") ||
      (before && before.status === "open" && view.status === "open" &&
        parseTime(view.closes_at) > parseTime(before.closes_at));
    if (extended) auction.extendedAt = Date.now();
    this.dispatchEvent(new CustomEvent("change", { detail: { auctionId: auction.id } }));
    return true;
  }

  /** The server ended a subscription: the auction is no longer visible to us. */
  forget(auctionId) {
    const auction = this.auctions.get(auctionId);
    if (!auction) return;
    auction.gone = true;
    auction.base = null;
    this.dispatchEvent(new CustomEvent("change", { detail: { auctionId } }));
  }

  clear() {
    this.auctions.clear();
    this.clock = new ServerClock();
    this.me = null;
  }
}
