// Reading an auction's events with `get_events` (PROTOCOL.md 1.1: pages of at most 1,000, each
// saying where the next starts), for the audit log and the price charts.

const PAGE = 1000;

/**
 * Read an auction's events, page by page, into `onEvent`; from `since` (exclusive), while
 * `wanted()` holds.
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
