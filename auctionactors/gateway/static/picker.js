// Picking companies by name (`list_companies`, PROTOCOL.md 1.1, read page by page): a searchable
// list (the ARIA combobox pattern) for one company or several. By keyboard: type to filter,
// ↓/↑ to move through the matches, Enter to pick, Escape to close the list, Backspace in the
// empty search box to drop the last company picked; each picked company also has a remove button.

import { fill, h } from "./dom.js";

const PAGE = 1000;
let pickers = 0;

/** Every company of `role` the user may list, by name (all pages). */
export async function loadCompanies(conn, role) {
  const companies = [];
  let cursor = null;
  do {
    const request = { role, limit: PAGE };
    if (cursor) request.cursor = cursor;
    const reply = await conn.request("list_companies", request);
    companies.push(...reply.companies);
    cursor = reply.next_cursor || null;
  } while (cursor);
  return companies;
}

function matches(company, words) {
  const text = `${company.name} ${company.id}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

/**
 * A company picker: `el` to place in a form, `values()` the ids picked (in the order picked),
 * `setCompanies(list)` once they are loaded, `setError(message)` if they could not be.
 */
export class CompanyPicker {
  constructor({ label, multiple = true, placeholder = "Type a name", testid, hint, onchange }) {
    const n = ++pickers;
    this.multiple = multiple;
    this.onchange = onchange || (() => {});
    this.companies = [];
    this.picked = [];
    this.matches = [];
    this.active = -1;
    this.loaded = false;
    this.listId = `picker-${n}-list`;
    this.input = h("input", {
      id: `picker-${n}`, type: "text", role: "combobox", autocomplete: "off", spellcheck: "false",
      "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": this.listId,
      "aria-describedby": `picker-${n}-hint`, placeholder, "data-testid": `${testid}-search`,
    });
    this.chips = h("ul", { class: "picker-chips", "aria-label": `${label}, picked`, "data-testid": `${testid}-picked` });
    this.list = h("ul", { class: "picker-list", id: this.listId, role: "listbox", "aria-label": `${label}, matches`, hidden: true });
    this.none = h("p", { class: "picker-none", hidden: true, "data-testid": `${testid}-none` }); // not an option: outside the listbox
    this.hint = h("span", { class: "field-hint", id: `picker-${n}-hint` }, hint || "");
    this.status = h("span", { class: "sr-only", "aria-live": "polite" }); // says what was picked
    this.el = h("div", { class: "field picker", "data-testid": testid },
      h("label", { class: "field-label", for: this.input.id }, label),
      this.chips,
      h("div", { class: "picker-box" }, this.input, this.list, this.none),
      this.hint, this.status);
    this.input.addEventListener("input", () => this.open());
    this.input.addEventListener("focus", () => this.open());
    this.input.addEventListener("click", () => this.open());
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.input.addEventListener("blur", () => setTimeout(() => {
      if (!this.el.contains(document.activeElement)) this.close();
    }, 0));
    this.renderChips();
  }

  values() {
    return this.picked.map((c) => c.id);
  }

  setCompanies(companies) {
    this.companies = companies;
    this.loaded = true;
    if (document.activeElement === this.input) this.open();
  }

  setError(message) {
    fill(this.hint, message);
    this.hint.classList.add("error-text");
  }

  open() {
    const words = this.input.value.toLowerCase().split(/\s+/).filter(Boolean);
    const taken = new Set(this.values());
    this.matches = this.companies.filter((c) => !taken.has(c.id) && matches(c, words));
    if (this.active >= this.matches.length || this.active < 0) this.active = this.matches.length ? 0 : -1;
    const options = this.matches.map((c, i) => h("li", {
      id: `${this.listId}-${i}`, role: "option", class: i === this.active ? "active" : null,
      "aria-selected": i === this.active ? "true" : "false", "data-id": c.id,
      // mousedown, not click: the input keeps the focus (no blur closing the list first)
      onmousedown: (event) => {
        event.preventDefault();
        this.pick(i);
      },
    }, h("span", { class: "picker-name" }, c.name), " ", h("span", { class: "picker-id" }, c.id)));
    const empty = !this.loaded ? "Loading companies…"
      : this.input.value.trim() ? `No company matches “${this.input.value.trim()}”` : "Every company is picked";
    fill(this.list, options);
    fill(this.none, empty);
    this.list.hidden = !options.length;
    this.none.hidden = Boolean(options.length);
    this.input.setAttribute("aria-expanded", options.length ? "true" : "false");
    this.markActive();
  }

  close() {
    this.list.hidden = true;
    this.none.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  markActive() {
    for (const [i, li] of [...this.list.querySelectorAll("[role=option]")].entries()) {
      const on = i === this.active;
      li.classList.toggle("active", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
      if (on) li.scrollIntoView({ block: "nearest" });
    }
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `${this.listId}-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  key(event) {
    const open = !this.list.hidden || !this.none.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) return this.open();
      if (!this.matches.length) return undefined;
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.matches.length) % this.matches.length;
      this.markActive();
    } else if (event.key === "Enter") {
      if (open && this.active >= 0) {
        event.preventDefault(); // picking, not submitting the form
        this.pick(this.active);
      } else if (this.input.value.trim()) {
        event.preventDefault(); // a search that matches nothing is not a submission
      }
    } else if (event.key === "Escape") {
      if (open) {
        event.preventDefault();
        this.close();
      }
    } else if (event.key === "Backspace" && !this.input.value && this.picked.length) {
      this.remove(this.picked[this.picked.length - 1].id);
    }
    return undefined;
  }

  pick(i) {
    const company = this.matches[i];
    if (!company) return;
    this.picked = this.multiple ? [...this.picked, company] : [company];
    this.input.value = "";
    this.renderChips();
    this.say(`${company.name} picked`);
    this.onchange();
    if (this.multiple) this.open();
    else this.close();
  }

  remove(id) {
    const company = this.picked.find((c) => c.id === id);
    this.picked = this.picked.filter((c) => c.id !== id);
    this.renderChips();
    if (company) this.say(`${company.name} removed`);
    this.onchange();
    this.input.focus();
  }

  say(text) {
    fill(this.status, text);
  }

  renderChips() {
    fill(this.chips, this.picked.map((c) => h("li", { class: "picker-chip", "data-id": c.id },
      h("span", {}, c.name),
      h("button", { type: "button", class: "picker-remove", "aria-label": `Remove ${c.name}`, title: `Remove ${c.name}`,
        onclick: () => this.remove(c.id) }, "×"))));
    this.chips.hidden = !this.picked.length;
  }
}
