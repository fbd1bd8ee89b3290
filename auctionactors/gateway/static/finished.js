// Finished auctions for the list: `subscribe_all` follows only the unfinished ones, so the
// finished are read page by page with `list_auctions` (newest first, by cursor) and each card's
// outcome (winners, total, the supplier's status line) with `get_view`, a few at a time. One
// reader per connection, kept while the user moves between screens.

const PAGE = 30;
const VIEWS_AT_ONCE = 4;
export const FINISHED = ["closed", "expired", "canceled"];

const readers = new WeakMap();

/** The reader of finished auctions for this connection. */
export function finishedOf(conn) {
  let reader = readers.get(conn);
  if (!reader) {
    reader = new FinishedPages(conn);
    readers.set(conn, reader);
  }
  return reader;
}

/** Events: "change" when a page or a view arrived. */
export class FinishedPages extends EventTarget {
  constructor(conn) {
    super();
    this.conn = conn;
    this.rows = []; // list_auctions summaries, in the order received
    this.views = new Map(); // auction id -> its view (get_view)
    this.cursor = null;
    this.done = false;
    this.started = false;
    this.loading = null;
    this.error = null;
    this.queue = [];
    this.reading = 0;
  }

  /** The next page (once at a time); resolves when its summaries are in. */
  more() {
    if (this.done) return Promise.resolve();
    if (!this.loading) {
      this.started = true;
      this.loading = this.read().finally(() => {
        this.loading = null;
        this.changed();
      });
    }
    return this.loading;
  }

  async read() {
    const request = { status: FINISHED, limit: PAGE };
    if (this.cursor) request.cursor = this.cursor;
    try {
      const reply = await this.conn.request("list_auctions", request);
      this.error = null;
      this.rows.push(...reply.auctions);
      this.cursor = reply.next_cursor || null;
      this.done = !this.cursor;
      for (const row of reply.auctions) this.queue.push(row.auction_id);
      this.pump();
    } catch (err) {
      this.error = err;
    }
  }

  pump() {
    while (this.reading < VIEWS_AT_ONCE && this.queue.length) {
      const auctionId = this.queue.shift();
      this.reading += 1;
      this.conn.request("get_view", { auction_id: auctionId })
        .then((reply) => this.views.set(auctionId, reply.view))
        .catch((err) => console.warn(`${auctionId}: its view could not be read`, err))
        .finally(() => {
          this.reading -= 1;
          this.pump();
          this.changed();
        });
    }
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }
}
