// One WebSocket to the server (PROTOCOL.md): hello, requests matched to replies by id, pushed
// updates, and automatic reconnection that resumes every auction where it stopped (`since`).
// The page speaks protocol 2: each subscription's first update carries the whole view, later
// ones a JSON Patch against it (applied by the model), and a catch-up far behind comes first as
// `history` frames.
//
// Exactly once (PROTOCOL.md 1.1, idempotency keys): each command (one user action) carries a
// fresh `key`, kept with it until its outcome is known. If the connection drops before the reply,
// the command is sent again with the same key right after the next welcome, before the page is
// live again (so before the user can act again); an answer `timeout` (outcome unknown) or
// `unavailable` (not applied), or no answer in time, sends it again after a pause (250 ms,
// doubling). At most MAX_SENDS sends, and none later than SEND_WINDOW_MS after the action (a
// stale bid is not placed minutes later); the server answers a key it has applied with the first
// result, so the user sees one outcome and the action is applied at most once.

const CLOSE_BAD_TOKEN = 4401;
const CLOSE_TOO_MANY = 4429;
const REQUEST_TIMEOUT_MS = 15000;
const MAX_BACKOFF_MS = 5000;
const MAX_SENDS = 6;
const RETRY_PAUSE_MS = 250;
const SEND_WINDOW_MS = 30000;
export const PROTOCOL = 2;

/** The requests that change an auction: they carry an idempotency key. */
export const COMMANDS = new Set([
  "create_auction", "update_auction", "start_auction", "cancel_auction", "place_bids",
  "revoke_bid", "select_solution", "submit_barge", "unsubmit_barge", "approve_barge",
  "reject_barge", "post_comment", "delete_comment", "rsvp", "invite_observer", "uninvite_observer",
]);
// Answers after which a command is sent again with its key.
const RETRIED_CODES = new Set(["timeout", "unavailable"]);

/**
 * A fresh idempotency key: a random UUID. `crypto.randomUUID` exists only in secure contexts
 * (https, localhost); elsewhere (plain http to another host) it is built from getRandomValues.
 */
export function newKey() {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A failed request: `code` is the protocol's error code, `message` is for people. */
export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function unconfirmed() {
  return new RequestError("timeout", "The server did not confirm in time; check the auction before trying again.");
}

/**
 * Events (EventTarget): "status" (detail: "connecting" | "live" | "reconnecting" | "failed"),
 * "welcome" (detail: the welcome frame), "update", "history" and "unsubscribed" (detail: the
 * frame), "socket" (a new socket is open: the views of the last one's subscriptions are void).
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
    this._commands = new Set(); // commands whose outcome is not known yet
    this._ready = false; // welcomed on the current socket
    this.resent = 0; // commands sent again with their key
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
    this._failCommands(new RequestError("closed", "Signed out"));
  }

  /**
   * Send a request; resolves with the `ok` frame, rejects with a RequestError. A command (one
   * user action) gets a fresh key (or `fields.key`) and is sent again with it while its outcome
   * is unknown (see the top of this file): the promise settles once, with the final outcome.
   */
  request(type, fields = {}) {
    if (this.status !== "live" || !this._ws || this._ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RequestError("offline",
        "Not connected to the server; reconnecting. Try again in a moment."));
    }
    if (COMMANDS.has(type)) {
      return new Promise((resolve, reject) => {
        const command = {
          type, fields: { ...fields, key: fields.key || newKey() }, resolve, reject,
          sends: 0, id: null, timer: null, error: null,
        };
        // Past the window, a command not in flight (waiting for the connection, or pausing)
        // ends with its last error; one in flight waits for its reply (or REQUEST_TIMEOUT_MS).
        command.expiry = setTimeout(() => {
          command.expired = true;
          if (command.id === null) this._settle(command, null, command.error || unconfirmed());
        }, SEND_WINDOW_MS);
        this._commands.add(command);
        this._send(command);
      });
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

  /** Send (again) a command on the current socket; while there is none, the next welcome does. */
  _send(command) {
    command.timer = null;
    if (!this._ready || !this._ws || this._ws.readyState !== WebSocket.OPEN) return;
    if (command.sends > 0) this.resent += 1;
    command.sends += 1;
    const id = ++this._ids;
    command.id = id;
    const timer = setTimeout(() => {
      this._pending.delete(id);
      this._again(command, unconfirmed());
    }, REQUEST_TIMEOUT_MS);
    this._pending.set(id, {
      command,
      timer,
      resolve: (frame) => this._settle(command, frame, null),
      reject: (err) => (RETRIED_CODES.has(err.code) ? this._again(command, err) : this._settle(command, null, err)),
    });
    this._ws.send(JSON.stringify({ ...command.fields, type: command.type, id }));
  }

  /** The command's outcome is unknown (or it was not applied): send it again after a pause. */
  _again(command, err) {
    command.id = null;
    command.error = err;
    if (command.sends >= MAX_SENDS || command.expired) {
      this._settle(command, null, err);
      return;
    }
    const pause = Math.min(MAX_BACKOFF_MS, RETRY_PAUSE_MS * 2 ** (command.sends - 1));
    command.timer = setTimeout(() => this._send(command), pause * (0.8 + Math.random() * 0.4));
  }

  _settle(command, frame, err) {
    if (!this._commands.delete(command)) return;
    clearTimeout(command.timer);
    clearTimeout(command.expiry);
    if (err) command.reject(err);
    else command.resolve(frame);
  }

  /** After a welcome: every command whose reply was lost with the last socket goes again. */
  _resend() {
    for (const command of [...this._commands]) {
      if (command.id !== null || command.timer !== null) continue; // in flight, or pausing
      if (command.sends >= MAX_SENDS) this._settle(command, null, command.error);
      else this._send(command);
    }
  }

  _failCommands(err) {
    for (const command of [...this._commands]) this._settle(command, null, err);
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
      ws.send(JSON.stringify({ type: "hello", token: this.token, protocol: PROTOCOL }));
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
    this._ready = true;
    this.dispatchEvent(new CustomEvent("socket"));
    this._resend(); // before the page is live: before the user can act again
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

  /** Subscribe again after `since`: the server sends the events since and a whole view. */
  resubscribe(auctionId, since) {
    return this._resume(auctionId, since).catch((err) => console.warn("resubscribing failed", err));
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
    } else if (frame.type === "update" || frame.type === "history" || frame.type === "unsubscribed") {
      this.dispatchEvent(new CustomEvent(frame.type, { detail: frame }));
    }
  }

  _closed(code) {
    this._ready = false;
    const lost = new RequestError("connection_lost",
      "The connection dropped before the server answered; check the auction before retrying.");
    this._failPending(lost.code, lost.message); // commands wait for the next welcome instead
    if (this._stopped) return;
    if (code === CLOSE_BAD_TOKEN) {
      this.failure = { code: "unauthenticated", message: "The server refused this token." };
      this._failCommands(lost);
      this._setStatus("failed");
      return;
    }
    if (code === CLOSE_TOO_MANY) {
      this.failure = { code: "too_many", message: "Too many connections with this token; close other tabs." };
      this._failCommands(lost);
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

  /** Reject the reads in flight; a command in flight is kept, to be sent again with its key. */
  _failPending(code, message) {
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      this._pending.delete(id);
      if (pending.command) {
        pending.command.id = null;
        pending.command.error = new RequestError(code, message);
      } else {
        pending.reject(new RequestError(code, message));
      }
    }
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }
}
