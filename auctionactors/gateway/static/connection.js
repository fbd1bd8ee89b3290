// One WebSocket to the server (PROTOCOL.md): hello, requests matched to replies by id, pushed
// updates, and automatic reconnection that resumes every auction where it stopped (`since`).

const CLOSE_BAD_TOKEN = 4401;
const CLOSE_TOO_MANY = 4429;
const REQUEST_TIMEOUT_MS = 15000;
const MAX_BACKOFF_MS = 5000;

/** A failed request: `code` is the protocol's error code, `message` is for people. */
export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * Events (EventTarget): "status" (detail: "connecting" | "live" | "reconnecting" | "failed"),
 * "welcome" (detail: the welcome frame), "update" and "unsubscribed" (detail: the frame).
 * `resume()` is called after every (re)connection's welcome: it returns the subscriptions to
 * restore as [auctionId, lastSeq] pairs; `subscribe_all` is then sent again when it was on.
 */
export class Connection extends EventTarget {
  constructor(url, token, resume) {
    super();
    this.url = url;
    this.token = token;
    this.resume = resume;
    this.status = "connecting";
    this.welcome = null;
    this.reconnects = 0;
    this.failure = null;
    this.subscribedAll = false;
    this._ws = null;
    this._ids = 0;
    this._pending = new Map();
    this._attempt = 0;
    this._timer = null;
    this._held = false;
    this._stopped = false;
  }

  start() {
    this._open();
  }

  /** Close for good (signing out). */
  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    if (this._ws) this._ws.close(1000, "signed out");
    this._failPending("closed", "Signed out");
  }

  /** Send a request; resolves with the `ok` frame, rejects with a RequestError. */
  request(type, fields = {}) {
    if (this.status !== "live" || !this._ws || this._ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RequestError("offline",
        "Not connected to the server; reconnecting. Try again in a moment."));
    }
    const id = ++this._ids;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new RequestError("timeout", "The server did not answer in time."));
      }, REQUEST_TIMEOUT_MS);
      this._pending.set(id, { resolve, reject, timer });
      this._ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  async subscribeAll() {
    this.subscribedAll = true;
    return this.request("subscribe_all");
  }

  // --- test and support hooks ---------------------------------------------------------------

  /** Drop the connection as a network failure would; with `hold`, stay down until `release`. */
  drop({ hold = false } = {}) {
    this._held = hold;
    if (this._ws) this._ws.close(4000, "dropped by the page");
  }

  release() {
    this._held = false;
    if (this.status === "reconnecting" && !this._ws) this._open();
  }

  // --- the socket -------------------------------------------------------------------------------

  _open() {
    if (this._stopped) return;
    const ws = new WebSocket(this.url);
    this._ws = ws;
    let welcomed = false;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "hello", token: this.token }));
    });
    ws.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!welcomed) {
        if (frame.type !== "welcome") return;
        welcomed = true;
        this._welcomed(frame);
        return;
      }
      this._dispatch(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this._ws === ws) this._ws = null;
      this._closed(event.code);
    });
  }

  _welcomed(frame) {
    this.welcome = frame;
    if (this._attempt > 0 || this.status === "reconnecting") this.reconnects += 1;
    this._attempt = 0;
    this._setStatus("live");
    this.dispatchEvent(new CustomEvent("welcome", { detail: frame }));
    this._resubscribe();
  }

  /** Resume every auction after the last seq applied (a few at a time), then subscribe_all. */
  async _resubscribe() {
    const queue = this.resume ? [...this.resume()] : [];
    const worker = async () => {
      while (queue.length) {
        const [auctionId, since] = queue.shift();
        await this._resume(auctionId, since);
      }
    };
    try {
      await Promise.all(Array.from({ length: 8 }, worker));
      if (this.subscribedAll) await this.request("subscribe_all");
    } catch (err) {
      console.warn("resubscribing failed", err);
    }
  }

  async _resume(auctionId, since) {
    for (let attempt = 0; attempt < 6; attempt += 1) {
      try {
        await this.request("subscribe", { auction_id: auctionId, since });
        return;
      } catch (err) {
        if (err.code === "not_found") {
          this.dispatchEvent(new CustomEvent("unsubscribed", { detail: { auction_id: auctionId } }));
          return;
        }
        if (err.code === "invalid") {
          since = undefined; // the server does not know that seq: start from its current view
        } else if (err.code === "rate_limited" || err.code === "unavailable") {
          await new Promise((resolve) => setTimeout(resolve, 1000));
        } else {
          throw err;
        }
      }
    }
  }

  _dispatch(frame) {
    if (frame.type === "ok" || frame.type === "error") {
      const pending = this._pending.get(frame.id);
      if (!pending) return;
      this._pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (frame.type === "ok") pending.resolve(frame);
      else pending.reject(new RequestError(frame.code, frame.message));
    } else if (frame.type === "update" || frame.type === "unsubscribed") {
      this.dispatchEvent(new CustomEvent(frame.type, { detail: frame }));
    }
  }

  _closed(code) {
    this._failPending("connection_lost",
      "The connection dropped before the server answered; check the auction before retrying.");
    if (this._stopped) return;
    if (code === CLOSE_BAD_TOKEN) {
      this.failure = { code: "unauthenticated", message: "The server refused this token." };
      this._setStatus("failed");
      return;
    }
    if (code === CLOSE_TOO_MANY) {
      this.failure = { code: "too_many", message: "Too many connections with this token; close other tabs." };
      this._setStatus("failed");
      return;
    }
    this._setStatus(this.welcome ? "reconnecting" : "connecting");
    if (this._held) return;
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this._attempt) * (0.8 + Math.random() * 0.4);
    this._attempt += 1;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._open(), code === 1013 ? 0 : delay);
  }

  _failPending(code, message) {
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new RequestError(code, message));
      this._pending.delete(id);
    }
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }
}
