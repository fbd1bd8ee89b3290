// Creating an auction (buyer, or an admin for a buyer): products, suppliers, schedule,
// durations and options, sent as one `create_auction`.

import { clearError, errorLine, field, h, section, showError } from "./dom.js";
import { duration, fromLocalInput, toLocalInput, ungroup, zone } from "./format.js";
import { CompanyPicker, loadCompanies } from "./picker.js";

export class CreateScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.role = ctx.model.me.company.role;
  }

  mount(root) {
    const now = this.ctx.model.clock.now();
    const start = Math.ceil((now + 15 * 60000) / 60000) * 60000;
    const eta = Math.ceil((now + 2 * 86400000) / 3600000) * 3600000;
    const el = (name, attrs = {}) => h("input", { name, autocomplete: "off", ...attrs });
    this.f = {
      kind: h("select", { name: "kind" },
        h("option", { value: "spot" }, "Spot (vessels × fuels)"),
        h("option", { value: "forward_fixed" }, "Forward fixed (term)"),
        h("option", { value: "formula_related" }, "Formula related (term)")),
      port: el("port", { required: true, placeholder: "e.g. Rotterdam" }),
      buyer: new CompanyPicker({ label: "Buyer", multiple: false, testid: "buyer-picker",
        placeholder: "Type the buyer's name", hint: "The company the auction is for.", onchange: () => clearError(this.error) }),
      suppliers: new CompanyPicker({ label: "Invited suppliers", testid: "supplier-picker",
        placeholder: "Type a supplier's name", hint: "Pick one or more: ↓ ↑ to choose, Enter to add.",
        onchange: () => clearError(this.error) }),
      draft: h("input", { type: "checkbox", name: "draft" }),
      start: el("scheduled_start", { type: "datetime-local", value: toLocalInput(start) }),
      duration: el("duration_s", { type: "number", min: 1, value: 600 }),
      decision: el("decision_duration_s", { type: "number", min: 1, value: 900 }),
      softClose: el("soft_close_s", { type: "number", min: 0, value: 180 }),
      tick: el("tick", { inputmode: "decimal", value: "0.25" }),
      anonymous: h("input", { type: "checkbox", name: "anonymous_bidding" }),
      traded: h("input", { type: "checkbox", name: "traded_bids_allowed" }),
      po: el("po"),
      reference: el("buyer_reference"),
      info: h("textarea", { name: "additional_information", rows: 2 }),
      portAgent: el("port_agent"),
      fuel: el("fuel", { placeholder: "e.g. VLSFO 0.5%" }),
      perMonth: el("quantity_mt_per_month", { type: "number", min: 1 }),
      startMonth: el("start_month", { type: "month" }),
      endMonth: el("end_month", { type: "month" }),
      fuelIndex: el("fuel_index", { placeholder: "e.g. Platts Rotterdam VLSFO" }),
    };
    this.defaultEta = toLocalInput(eta);
    this.productRows = h("div", { class: "product-rows" });
    this.addProduct();
    const hints = {
      duration: h("span", { class: "field-hint" }), decision: h("span", { class: "field-hint" }),
      softClose: h("span", { class: "field-hint" }),
    };
    const showDurations = () => {
      hints.duration.textContent = `= ${duration(this.f.duration.value)}`;
      hints.decision.textContent = `= ${duration(this.f.decision.value)}`;
      hints.softClose.textContent = Number(this.f.softClose.value) ? `last ${duration(this.f.softClose.value)} extend` : "no soft close";
    };
    for (const k of ["duration", "decision", "softClose"]) this.f[k].addEventListener("input", showDurations);
    showDurations();
    this.spot = section("Products",
      h("p", { class: "muted" }, "One row per vessel and fuel. Suppliers bid per product."),
      this.productRows,
      h("button", { type: "button", class: "btn ghost", onclick: () => this.addProduct() }, "+ Add product"));
    this.term = section("Term",
      h("div", { class: "form-row" }, field("Fuel", this.f.fuel), field("MT per month", this.f.perMonth),
        field("From month", this.f.startMonth), field("To month", this.f.endMonth)),
      h("div", { class: "form-row" }, field("Fuel index (formula related)", this.f.fuelIndex)));
    this.term.hidden = true;
    this.term.dataset.testid = "term-section";
    this.f.kind.addEventListener("change", () => {
      const spot = this.f.kind.value === "spot";
      this.spot.hidden = !spot;
      this.term.hidden = spot;
    });
    this.f.draft.addEventListener("change", () => { this.f.start.disabled = this.f.draft.checked; });
    this.error = errorLine("create-error");
    const form = h("form", { class: "create", "data-testid": "create-form", novalidate: true },
      h("h1", {}, "New auction"),
      section("Auction",
        h("div", { class: "form-row" }, field("Kind", this.f.kind), field("Port", this.f.port),
          this.role === "admin" ? this.f.buyer.el : null),
        h("div", { class: "form-row" }, this.f.suppliers.el)),
      this.spot,
      this.term,
      section("Schedule",
        h("div", { class: "form-row" },
          field("Bidding opens", this.f.start, `your time (${zone})`),
          h("label", { class: "check" }, this.f.draft, " Save as draft (no start time)")),
        h("div", { class: "form-row" },
          field("Bidding time (s)", this.f.duration, hints.duration),
          field("Soft close window (s)", this.f.softClose, hints.softClose),
          field("Decision time (s)", this.f.decision, hints.decision),
          field("Price tick (USD/MT)", this.f.tick))),
      section("Options",
        h("div", { class: "form-row" },
          h("label", { class: "check" }, this.f.anonymous, " Anonymous bidding (suppliers shown as aliases)"),
          h("label", { class: "check" }, this.f.traded, " Traded bids allowed")),
        h("div", { class: "form-row" }, field("PO", this.f.po), field("Your reference", this.f.reference),
          field("Port agent", this.f.portAgent)),
        h("div", { class: "form-row" }, field("Additional information", this.f.info))),
      this.error,
      h("div", { class: "btn-group" }, h("button", { type: "submit", class: "btn primary big", "data-testid": "create-submit" }, "Create auction"),
        h("a", { class: "btn ghost", href: "#/" }, "Back to auctions")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    root.append(form);
    this.loadCompanies();
  }

  async loadCompanies() {
    const load = async (picker, role) => {
      try {
        picker.setCompanies(await loadCompanies(this.ctx.conn, role));
      } catch (err) {
        picker.setError(`The companies could not be loaded: ${err.message}`);
      }
    };
    await Promise.all([load(this.f.suppliers, "supplier"), this.role === "admin" ? load(this.f.buyer, "buyer") : null]);
  }

  unmount() {}

  update() {}

  addProduct() {
    const i = this.productRows.children.length + 1;
    const el = (name, attrs = {}) => h("input", { name, autocomplete: "off", ...attrs });
    const row = h("fieldset", { class: "product-row", "data-testid": "product-row" },
      h("legend", {}, `Product ${i}`),
      h("div", { class: "form-row" },
        field("Vessel", el("vessel_name", { placeholder: "MV …" })),
        field("IMO", el("imo", { inputmode: "numeric" })),
        field("Fuel", el("fuel", { placeholder: "e.g. VLSFO 0.5%" })),
        field("Qty (MT)", el("quantity_mt", { type: "number", min: 1, placeholder: "MT" })),
        field("ETA", el("eta", { type: "datetime-local", value: this.defaultEta })),
        field("ETD", el("etd", { type: "datetime-local" })),
        h("button", { type: "button", class: `btn small ghost remove${i > 1 ? "" : " placeholder"}`,
          onclick: () => row.remove(), tabindex: i > 1 ? null : "-1", "aria-hidden": i > 1 ? null : "true" }, "Remove")));
    this.productRows.append(row);
  }

  auctionObject() {
    const f = this.f;
    const text = (input) => input.value.trim() || null;
    const auction = {
      kind: f.kind.value,
      port: f.port.value.trim(),
      suppliers: f.suppliers.values(),
      scheduled_start: f.draft.checked ? null : fromLocalInput(f.start.value),
      duration_s: Number(f.duration.value),
      decision_duration_s: Number(f.decision.value),
      soft_close_s: Number(f.softClose.value),
      tick: f.tick.value.trim(),
      anonymous_bidding: f.anonymous.checked,
      traded_bids_allowed: f.traded.checked,
      po: text(f.po),
      buyer_reference: text(f.reference),
      additional_information: text(f.info),
      port_agent: text(f.portAgent),
    };
    if (!auction.port) throw new Error("Enter the port");
    if (this.role === "admin" && !f.buyer.values().length) throw new Error("Pick the buyer");
    if (!f.draft.checked && !auction.scheduled_start) throw new Error("Choose when bidding opens, or save as draft");
    for (const [key, label] of [["duration_s", "Bidding time"], ["decision_duration_s", "Decision time"]]) {
      if (!Number.isInteger(auction[key]) || auction[key] <= 0) throw new Error(`${label} must be a whole number of seconds above 0`);
    }
    if (auction.kind === "spot") {
      auction.products = [...this.productRows.querySelectorAll(".product-row")].map((row, i) => {
        const v = (name) => row.querySelector(`[name=${name}]`).value.trim();
        const qty = Number(ungroup(v("quantity_mt")));
        if (!v("vessel_name") || !v("imo")) throw new Error(`Product ${i + 1}: enter the vessel and its IMO number`);
        if (!v("fuel")) throw new Error(`Product ${i + 1}: enter the fuel`);
        if (!Number.isInteger(qty) || qty <= 0) throw new Error(`Product ${i + 1}: the quantity must be a whole number of MT above 0`);
        const eta = fromLocalInput(v("eta"));
        if (!eta) throw new Error(`Product ${i + 1}: enter the ETA`);
        return {
          vessel: { name: v("vessel_name"), imo: v("imo") }, fuel: v("fuel"), quantity_mt: qty,
          eta, etd: fromLocalInput(v("etd")),
        };
      });
    } else {
      auction.fuel = text(f.fuel);
      auction.quantity_mt_per_month = f.perMonth.value ? Number(ungroup(f.perMonth.value.trim())) : null;
      auction.start_month = text(f.startMonth);
      auction.end_month = text(f.endMonth);
      if (auction.kind === "formula_related") auction.fuel_index = text(f.fuelIndex);
    }
    return auction;
  }

  async submit() {
    clearError(this.error);
    let request;
    try {
      request = { auction: this.auctionObject() };
      if (this.role === "admin") request.buyer = this.f.buyer.values()[0];
    } catch (err) {
      showError(this.error, err);
      return;
    }
    const button = this.error.parentElement.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const reply = await this.ctx.conn.request("create_auction", request);
      this.ctx.created(reply.auction_id);
    } catch (err) {
      showError(this.error, err);
    } finally {
      button.disabled = false;
    }
  }
}
