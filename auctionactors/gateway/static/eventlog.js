// Reading an auction's events with `get_events` (for the audit log, the price charts and a
// supplier's own bids), and what the view does not carry but its events do (when bidding really
// opened, the buyer's comment on its selection): found among the events the page received, else
// read once per auction.

const PAGE = 1000;
const MAX_PAGES = 20; // a lookup stops here (an event far into a huge log is not worth the wait)

/**
 * Read an auction's events, page by page (`get_events`: pages of at most 1,000, each saying where
 * the next starts), into `onEvent`; from `since` (exclusive), while `wanted()` holds.
 */
export async function readEvents(conn, auctionId, since, onEvent, wanted = () => true) {
  let from = since;
  while (wanted()) {
    const reply = await conn.request("get_events", { auction_id: auctionId, since: from, limit: PAGE });
    for (const event of reply.events) onEvent(event);
    if (reply.next_since === null || reply.next_since === undefined || !reply.events.length) return;
    from = reply.next_since;
  }
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
  let found = null;
  let read = 0;
  if (!ctx.conn) return null;
  await readEvents(ctx.conn, auction.id, since, (event) => {
    read += 1;
    if (event.type === type) found = event;
  }, () => !found && read < MAX_PAGES * PAGE && Boolean(ctx.conn));
  return found;
}
