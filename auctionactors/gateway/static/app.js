// The page: sign-in, one connection, the routes (#/, #/new, #/operator, #/auction/<id>) and the
// countdown ticker. The token is kept in sessionStorage (this tab only), never in the URL.

import { cues, flashTitle } from "./alerts.js";
import { BuyerScreen } from "./buyer.js";
import { tickCountdown } from "./common.js";
import { Connection } from "./connection.js";
import { CreateScreen } from "./create.js";
import { clearOffline, errorLine, fill, h, showError } from "./dom.js";
import { ListScreen } from "./list.js";
import { Model } from "./model.js";
import { OperatorScreen } from "./operator.js";
import { SupplierScreen } from "./supplier.js";

const TOKEN_KEY = "auctionactors.token";
const app = document.getElementById("app");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const pill = document.getElementById("connection");

const model = new Model();
let conn = null;
let screen = null;
let screenKey = "";
let dirty = false;

const ctx = {
  model,
  loading: true,
  get conn() {
    return conn;
  },
  created(auctionId) {
    location.hash = `#/auction/${encodeURIComponent(auctionId)}`;
  },
};

// A handle for tests and support: the connection, the model, and a way to drop the socket.
window.auctionPage = {
  model,
  cues,
  get connection() {
    return conn;
  },
  drop(options) {
    if (conn) conn.drop(options);
  },
  release() {
    if (conn) conn.release();
  },
};

function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

// --- signing in and out -------------------------------------------------------------------------

function showSignIn(message) {
  unmountScreen();
  fill(nav);
  fill(who);
  pill.hidden = true;
  const token = h("input", {
    type: "password", name: "token", autocomplete: "current-password", required: true,
    "aria-label": "Access token", placeholder: "Paste your access token",
  });
  const error = errorLine("signin-error");
  const form = h("form", { class: "signin panel", "data-testid": "signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Use the access token you were given. It stays in this browser tab only."),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Access token"), token),
    error,
    h("button", { type: "submit", class: "btn primary big" }, "Sign in"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = token.value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    connect(value);
  });
  fill(app, form);
  if (message) showError(error, new Error(message));
  token.focus();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (conn) conn.stop();
  conn = null;
  model.clear();
  showSignIn();
}

function connect(token) {
  if (conn) conn.stop();
  model.clear();
  ctx.loading = true;
  let first = true;
  const connection = new Connection(wsUrl(), token, () => model.subscriptions());
  conn = connection;
  connection.addEventListener("status", (event) => {
    if (conn !== connection) return;
    showStatus(event.detail);
    if (event.detail === "failed") {
      const failure = connection.failure || {};
      if (failure.code === "unauthenticated") sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(failure.message || "The connection failed.");
    }
  });
  connection.addEventListener("welcome", (event) => {
    model.me = event.detail;
    model.clock.observe(event.detail.server_time);
    if (!first) return; // a reconnection: the connection resumes every auction itself
    first = false;
    showHeader();
    connection.subscribeAll()
      .catch((err) => console.warn("subscribe_all failed", err))
      .finally(() => {
        ctx.loading = false;
        render();
      });
    route();
  });
  connection.addEventListener("update", (event) => model.apply(event.detail));
  connection.addEventListener("history", (event) => model.history(event.detail));
  connection.addEventListener("socket", () => model.resumed());
  connection.addEventListener("unsubscribed", (event) => model.forget(event.detail.auction_id));
  fill(app, h("p", { class: "empty-state" }, "Connecting…"));
  showStatus("connecting");
  connection.start();
}

function showHeader() {
  const me = model.me;
  const role = me.company.role;
  const links = [["#/", "Auctions"]];
  if (role === "buyer" || role === "admin") links.push(["#/new", "New auction"]);
  if (role === "admin") links.push(["#/operator", "Operator"]);
  fill(nav, links.map(([href, label]) => h("a", { href }, label)));
  fill(who,
    h("span", { class: "who-name", "data-testid": "who" }, me.user.name),
    h("span", { class: "who-company" }, `${me.company.name} · ${role}`),
    h("button", { type: "button", class: "btn small ghost on-dark", onclick: signOut }, "Sign out"));
  markNav();
}

function showStatus(status) {
  const labels = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", failed: "Offline" };
  pill.hidden = false;
  pill.className = `connection ${status}`;
  pill.dataset.testid = "connection";
  pill.dataset.status = status;
  pill.textContent = labels[status] || status;
  pill.title = status === "reconnecting"
    ? "The connection dropped; updates resume where they stopped once it is back." : "";
  document.body.classList.toggle("offline", status === "reconnecting");
  if (status === "live") clearOffline();
}

// --- routes ---------------------------------------------------------------------------------------

function unmountScreen() {
  if (screen) screen.unmount();
  screen = null;
  screenKey = "";
}

function route() {
  if (!model.me) return;
  const hash = location.hash.replace(/^#/, "") || "/";
  const role = model.me.company.role;
  const auctionMatch = /^\/auction\/(.+)$/.exec(hash);
  let key = "list";
  if (hash === "/new" && (role === "buyer" || role === "admin")) key = "new";
  else if (hash === "/operator" && role === "admin") key = "operator";
  else if (auctionMatch) key = `auction:${decodeURIComponent(auctionMatch[1])}`;
  if (key === screenKey) return;
  unmountScreen();
  screenKey = key;
  fill(app);
  window.scrollTo(0, 0);
  markNav();
  if (key === "new") screen = new CreateScreen(ctx);
  else if (key === "operator") screen = new OperatorScreen(ctx);
  else if (key.startsWith("auction:")) screen = auctionScreen(key.slice("auction:".length));
  else screen = new ListScreen(ctx);
  if (screen) screen.mount(app);
  tick(); // the countdown shows its value at once, not at the next tick
}

/** The screen for an auction by the viewer's role; a placeholder until its first update. */
function auctionScreen(auctionId) {
  const auction = model.get(auctionId);
  if (!auction || !auction.view) {
    const placeholder = {
      auctionId,
      placeholder: true,
      missing: false,
      mount(root) {
        fill(root, h("p", { class: "empty-state" }, this.missing ? "This auction does not exist or is not visible to you."
          : "Loading…"), h("a", { href: "#/" }, "← All auctions"));
      },
      update() {
        this.mount(app);
      },
      unmount() {},
    };
    // Not followed (a finished auction opened from the list, or a link): subscribe to it; its
    // first update replaces this placeholder.
    if (conn) {
      conn.request("subscribe", { auction_id: auctionId }).catch((err) => {
        placeholder.missing = true;
        if (err.code !== "not_found") console.warn(`${auctionId}: subscribing failed`, err);
        if (screen === placeholder) placeholder.update();
      });
    }
    return placeholder;
  }
  const role = model.me.company.role;
  const Screen = auction.view.status_line !== undefined && role === "supplier" ? SupplierScreen : BuyerScreen;
  const inner = new Screen(ctx, auctionId);
  return {
    auctionId,
    mount(root) {
      root.append(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← All auctions")));
      inner.mount(root);
    },
    update() {
      inner.update();
    },
    unmount() {
      inner.unmount();
    },
  };
}

function markNav() {
  const hash = location.hash || "#/";
  for (const a of nav.querySelectorAll("a")) {
    const href = a.getAttribute("href");
    a.classList.toggle("active", href === "#/" ? hash === "#/" || hash.startsWith("#/auction") : hash === href);
  }
}

// --- rendering ------------------------------------------------------------------------------------

function render() {
  dirty = false;
  if (!screen) return;
  if (screen.placeholder) {
    const auction = model.get(screen.auctionId);
    if (auction && auction.view) {
      screenKey = "";
      route();
      return;
    }
  }
  const auction = screen.auctionId ? model.get(screen.auctionId) : null;
  if (screen.auctionId && auction && auction.gone) {
    fill(app, h("p", { class: "empty-state" }, "This auction is no longer visible to you."), h("a", { href: "#/" }, "← All auctions"));
    return;
  }
  screen.update();
  tick();
}

function scheduleRender() {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(() => dirty && render());
  setTimeout(() => dirty && render(), 100);
}

model.addEventListener("change", (event) => {
  if (!screen) return;
  const id = event.detail.auctionId;
  if (screen.auctionId && screen.auctionId !== id) return;
  scheduleRender();
});

// A patch that did not apply: subscribe again after the last seq shown, for a whole view.
model.addEventListener("desync", (event) => {
  if (conn) conn.resubscribe(event.detail.auctionId, event.detail.since || undefined);
});

function tick() {
  for (const el of document.querySelectorAll(".countdown[data-deadline]")) tickCountdown(el, model);
  const auction = screen && screen.auctionId ? model.get(screen.auctionId) : null;
  const value = document.querySelector(".auction-head .countdown:not([hidden]) .cd-value");
  document.title = flashTitle(auction && auction.view && value
    ? `${value.textContent} · ${auction.view.port} — auctionactors` : "auctionactors");
}

// The sticky parts (the top bar, an auction's head with its countdown and status line) are
// measured so that whatever scrolls into view lands below them (`scroll-padding-top`).
const topbar = document.querySelector(".topbar");
function measureSticky() {
  const bar = topbar.offsetHeight;
  const head = document.querySelector(".sticky-head");
  const root = document.documentElement.style;
  root.setProperty("--topbar-h", `${bar}px`);
  root.setProperty("--sticky-h", `${bar + (head ? head.offsetHeight : 0)}px`);
}
const stickyObserver = new ResizeObserver(measureSticky);
stickyObserver.observe(topbar);
new MutationObserver(() => {
  const head = document.querySelector(".sticky-head");
  if (head && !head.dataset.observed) {
    head.dataset.observed = "";
    stickyObserver.observe(head);
  }
  measureSticky();
}).observe(app, { childList: true });

window.addEventListener("hashchange", route);
setInterval(tick, 250);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) connect(saved);
else showSignIn();
