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

/** Show a request's failure (`{code, message}`) or any error in `el`. */
export function showError(el, err) {
  const message = err && err.message ? err.message : String(err);
  if (!el) {
    console.error(err);
    return;
  }
  fill(el, message);
  el.hidden = false;
}

export function clearError(el) {
  if (el) {
    fill(el);
    el.hidden = true;
  }
}

export function errorLine(testid) {
  return h("p", { class: "error", role: "alert", hidden: true, "data-testid": testid });
}

export function section(title, ...children) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}
