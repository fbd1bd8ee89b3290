// Money, time and labels, as the page shows them. Amounts arrive as exact decimal strings and are
// handled as integer cents; times arrive as RFC 3339 UTC and are shown in the user's zone.

const DECIMAL = /^\s*([+-])?(\d+)(?:[.,](\d{0,2}))?\s*$/;

// Thousands grouped as the page shows them: "1,000.00", "1 000,5", "1'000" (never a decimal comma
// followed by three digits: amounts have at most two decimals).
const GROUPED = /^\s*[+-]?\d{1,3}([,\u00a0\u202f '])\d{3}(?:\1\d{3})*(?:[.](\d*))?\s*$/;
const GROUPED_DOT = /^\s*[+-]?\d{1,3}([.\u00a0\u202f '])\d{3}(?:\1\d{3})*(?:,(\d*))?\s*$/;

/** The text without its thousands separators ("1,000.00" → "1000.00"); unchanged otherwise. */
export function ungroup(text) {
  const s = String(text);
  const comma = GROUPED.exec(s);
  if (comma) return s.split(comma[1]).join("");
  const dot = GROUPED_DOT.exec(s);
  if (dot && (dot[1] !== "." || dot[2] !== undefined)) return s.split(dot[1]).join("");
  return s;
}

/** "2.25" → 225, "-1.5" → -150, "1,000.00" → 100000; null when the text is not a number with at
 * most 2 decimals. */
export function toCents(text) {
  if (text === null || text === undefined) return null;
  const match = DECIMAL.exec(ungroup(text));
  if (!match) return null;
  const [, sign, whole, frac = ""] = match;
  const cents = Number(whole) * 100 + Number((frac + "00").slice(0, 2));
  if (!Number.isSafeInteger(cents)) return null;
  return sign === "-" ? -cents : cents;
}

/** 225 → "2.25" (the protocol's notation). */
export function centsToWire(cents) {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

const moneyFormat = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

/** An amount for people: two decimals, grouped ("6,750.00"); "–" for none. */
export function money(amount) {
  if (amount === null || amount === undefined) return "–";
  const cents = toCents(amount);
  if (cents === null) return String(amount);
  return moneyFormat.format(cents / 100);
}

/** Milliseconds since the epoch of an RFC 3339 string (microseconds are cut to milliseconds). */
export function parseTime(iso) {
  if (!iso) return NaN;
  return Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});
export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A time of day in the user's zone ("10:04:31"), with the date when it is not today. */
export function time(iso) {
  const ms = parseTime(iso);
  if (Number.isNaN(ms)) return "–";
  const date = new Date(ms);
  if (date.toDateString() === new Date().toDateString()) return timeFormat.format(date);
  return dateTimeFormat.format(date);
}

/** A date and time in the user's zone ("Mon 30 Nov, 07:00"). */
export function dateTime(iso) {
  const ms = parseTime(iso);
  return Number.isNaN(ms) ? "–" : dateTimeFormat.format(new Date(ms));
}

/** Remaining time: "2:41", "1:02:03", "3 d 4 h"; "0:00" once passed. */
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days > 0) return `${days} d ${hours} h`;
  const ss = String(seconds).padStart(2, "0");
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
  return `${minutes}:${ss}`;
}

/** A duration in seconds for people: "10 min", "3 min 30 s", "45 s". */
export function duration(seconds) {
  const s = Number(seconds) || 0;
  const min = Math.floor(s / 60);
  const rest = s % 60;
  if (min && rest) return `${min} min ${rest} s`;
  return min ? `${min} min` : `${rest} s`;
}

/** A local "datetime-local" input value ("2026-11-27T11:00") for a time in ms. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A "datetime-local" input value (local time) as RFC 3339 UTC; null when empty or invalid. */
export function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export const STATUS_LABELS = {
  draft: "Draft",
  pending: "Pending",
  open: "Open",
  decision: "Decision",
  closed: "Closed",
  expired: "Expired",
  canceled: "Canceled",
};

export const KIND_LABELS = {
  spot: "Spot",
  forward_fixed: "Forward fixed",
  formula_related: "Formula related",
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

/** "MV Aurora · VLSFO 0.5%" or, for a term product, "VLSFO 0.5% · 2027-01..2027-06". */
export function productLabel(product) {
  if (!product) return "?";
  if (product.vessel) return `${product.vessel.name} · ${product.fuel}`;
  return `${product.fuel} · ${product.start_month}..${product.end_month}`;
}

export function quantity(product) {
  if (product.quantity_mt_per_month) return `${product.quantity_mt_per_month.toLocaleString()} MT/month`;
  return `${Number(product.quantity_mt).toLocaleString()} MT`;
}

/** The deadline a countdown shows for an auction in its status, with what it counts to. */
export function deadlineOf(view) {
  switch (view.status) {
    case "pending":
      return { at: view.scheduled_start, label: "Starts in" };
    case "open":
      return { at: view.closes_at, label: "Bidding closes in" };
    case "decision":
      return { at: view.decision_closes_at, label: "Decision due in" };
    default:
      return null;
  }
}

/**
 * Check a bid's price and floor as typed, against the auction's tick, before it is sent.
 * Returns {amount, min_amount} in wire notation (null when empty) or throws an Error whose
 * message says what is wrong, worded like the server's ("amount must be a multiple of 0.25").
 */
export function checkBid(amountText, floorText, tick, kind) {
  const tickCents = toCents(tick) || 1;
  const out = {};
  for (const [key, text, name] of [["amount", amountText, "price"], ["min_amount", floorText, "auto-bid floor"]]) {
    if (!String(text || "").trim()) {
      out[key] = null;
      continue;
    }
    const cents = toCents(text);
    if (cents === null) throw new Error(`The ${name} must be a number with at most two decimals, e.g. 2.25`);
    if (cents % tickCents !== 0) throw new Error(`The ${name} must be a multiple of ${tick}`);
    if (kind !== "formula_related" && cents <= 0) throw new Error(`The ${name} must be greater than 0`);
    out[key] = centsToWire(cents);
  }
  if (out.amount === null && out.min_amount === null) {
    throw new Error("Enter a price, an auto-bid floor, or both");
  }
  return out;
}
