// What the view does not carry but its events do (when bidding really opened, the buyer's
// comment on its selection; a supplier's own bids): found among the events the page received,
// else read with `get_events`, page by page, once per auction.

const PAGE = 1000;
const MAX_PAGES = 20; // a lookup stops here (an event far into a huge log is not worth the wait)

/** Every event of the auction from `since` on, read page by page (`get_events`). */
export async function readEvents(conn, auctionId, since = 0, onPage = null) {
  const events = [];
  let next = since;
  for (;;) {
    const reply = await conn.request("get_events", { auction_id: auctionId, since: next, limit: PAGE });
    events.push(...reply.events);
    if (onPage) onPage(reply.events);
    if ("next_since" in reply) {
      if (reply.next_since === null) break;
      next = reply.next_since;
    } else {
      if (reply.events.length < PAGE) break;
      next = reply.events[reply.events.length - 1].seq;
    }
  }
  return events;
}

/**
 * The last event of `type` known for the auction, or null (then it is looked up once with
 * `get_events` from `since`, and the model announces a change when found).
 */
export function knownEvent(ctx, auction, type, since = 0) {
  for (let i = auction.events.length - 1; i >= 0; i -= 1) {
    if (auction.events[i].type === type) return auction.events[i];
  }
  auction.lookups = auction.lookups || {};
  if (type in auction.lookups) return auction.lookups[type] || null;
  auction.lookups[type] = null;
  lookUp(ctx, auction, type, since).then((found) => {
    auction.lookups[type] = found || false;
    if (found) ctx.model.dispatchEvent(new CustomEvent("change", { detail: { auctionId: auction.id } }));
  }, (err) => {
    delete auction.lookups[type]; // try again on a later render
    console.warn(`looking up ${type} failed`, err);
  });
  return null;
}

async function lookUp(ctx, auction, type, since) {
  let next = since;
  let found = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    if (!ctx.conn) return null;
    const reply = await ctx.conn.request("get_events", { auction_id: auction.id, since: next, limit: PAGE });
    for (const event of reply.events) if (event.type === type) found = event;
    if (found || reply.next_since === null || reply.next_since === undefined) return found;
    next = reply.next_since;
  }
  return found;
}
