// Building the page: elements from data, never from HTML strings (text stays text).

/** An element: h("td", {class: "num"}, "2.25"). Attributes starting with "on" are listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

/** A labelled form control; the label wraps it so that clicking the text focuses it. */
export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), control,
    hint ? h("span", { class: "field-hint" }, hint) : null);
}

/** A button whose click runs an async action: disabled meanwhile, errors shown in `errorEl`. */
export function actionButton(label, action, { errorEl, cls = "btn", testid, title } = {}) {
  const button = h("button", { type: "button", class: cls, "data-testid": testid, title });
  button.textContent = label;
  button.addEventListener("click", async () => {
    button.disabled = true;
    if (errorEl) fill(errorEl);
    try {
      await action();
    } catch (err) {
      showError(errorEl, err);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// The server's messages name the protocol's fields; people read these words instead.
const FIELD_WORDS = [
  [/\bmin_amount\b/g, "auto-bid floor"], [/\bamount\b/g, "price"],
  [/\bscheduled_start\b/g, "start time"], [/\bdecision_duration_s\b/g, "decision time"],
  [/\bsoft_close_s\b/g, "soft-close window"], [/\bduration_s\b/g, "bidding time"],
  [/\bquantity_mt_per_month\b/g, "quantity per month"], [/\bquantity_mt\b/g, "quantity"],
  [/\bstart_month\b/g, "first month"], [/\bend_month\b/g, "last month"],
  [/\bfuel_index\b/g, "fuel index"], [/\bbuyer_reference\b/g, "buyer reference"],
  [/\badditional_information\b/g, "notes"], [/\bport_agent\b/g, "port agent"],
  [/\banonymous_bidding\b/g, "anonymous bidding"], [/\bbid_ids\b/g, "selected bids"],
  [/\betd\b/g, "ETD"], [/\beta\b/g, "ETA"], [/\bpo\b/g, "PO"],
];

/** A message for people: field names in words, a capital first letter ("amount must not be
 * below min_amount" → "Price must not be below the auto-bid floor"). */
export function inWords(message) {
  let text = String(message);
  text = text.replace(/\bbelow min_amount\b/g, "below the auto-bid floor");
  for (const [pattern, words] of FIELD_WORDS) text = text.replace(pattern, words);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Show a request's failure (`{code, message}`) or any error in `el`. An `offline` failure is
 * marked so that the page clears it once the connection is back (`clearOffline`). */
export function showError(el, err) {
  const message = err && err.message ? err.message : String(err);
  if (!el) {
    console.error(err);
    return;
  }
  fill(el, inWords(message));
  el.hidden = false;
  if (err && err.code === "offline") el.dataset.offline = "";
  else delete el.dataset.offline;
}

export function clearError(el) {
  if (el) {
    fill(el);
    el.hidden = true;
    delete el.dataset.offline;
  }
}

/** The connection is back: "Not connected to the server…" no longer holds anywhere. */
export function clearOffline(root = document) {
  for (const el of root.querySelectorAll("[data-offline]")) clearError(el);
}

export function errorLine(testid) {
  return h("p", { class: "error", role: "alert", hidden: true, "data-testid": testid });
}

export function section(title, ...children) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}
