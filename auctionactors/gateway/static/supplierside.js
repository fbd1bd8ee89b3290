// A supplier's side panels: its answer (RSVP), its barges and its comments to the buyer.

import { actionButton, clearError, errorLine, field, fill, h, section, showError } from "./dom.js";
import { time } from "./format.js";

const FINAL = ["closed", "expired", "canceled"];

export class SupplierSide {
  constructor(ctx, auctionId) {
    this.ctx = ctx;
    this.auctionId = auctionId;
    this.rsvp = h("div");
    this.barges = h("div");
    this.bargeForm = this.makeBargeForm();
    this.comments = h("div");
    this.commentForm = this.makeCommentForm();
  }

  panels() {
    return [
      section("Your answer", this.rsvp),
      section("Barges", this.barges, this.bargeForm),
      section("Comments to the buyer", this.comments, this.commentForm),
    ];
  }

  render(view) {
    this.renderRsvp(view);
    this.renderBarges(view);
    this.renderComments(view);
    for (const el of [this.bargeForm, this.commentForm]) {
      el.querySelector("fieldset").disabled = FINAL.includes(view.status);
    }
  }


  renderRsvp(view) {
    const error = errorLine();
    const current = view.rsvp;
    const buttons = ["yes", "maybe", "no"].map((response) => {
      const label = { yes: "Attending", maybe: "Maybe", no: "Declining" }[response];
      const button = actionButton(label, () =>
        this.ctx.conn.request("rsvp", { auction_id: this.auctionId, response }),
      { errorEl: error, cls: `btn small ${current === response ? "selected" : "ghost"}`, testid: `rsvp-${response}` });
      button.setAttribute("aria-pressed", String(current === response));
      return button;
    });
    const final = ["closed", "expired", "canceled"].includes(view.status);
    for (const b of buttons) b.disabled = final;
    fill(this.rsvp,
      h("p", { class: "muted" }, current ? `You answered: ${current}` : "Will you take part?"),
      h("div", { class: "btn-group" }, buttons), error);
  }

  renderBarges(view) {
    const error = errorLine();
    const rows = view.barges.map((b) => h("li", {},
      h("span", {}, `${b.barge.name} (IMO ${b.barge.imo})`), " ",
      h("span", { class: `badge barge-${b.status}` }, b.status), " ",
      actionButton("Withdraw", () =>
        this.ctx.conn.request("unsubmit_barge", { auction_id: this.auctionId, imo: b.barge.imo }),
      { errorEl: error, cls: "btn small ghost" })));
    fill(this.barges, rows.length ? h("ul", { class: "plain", "data-testid": "barges" }, rows)
      : h("p", { class: "muted" }, "No barge submitted."), error);
  }

  makeBargeForm() {
    const name = h("input", { name: "barge_name", placeholder: "Barge name", autocomplete: "off" });
    const imo = h("input", { name: "barge_imo", placeholder: "IMO", inputmode: "numeric", autocomplete: "off" });
    const error = errorLine();
    const form = h("form", { class: "inline-form", novalidate: true },
      h("fieldset", {}, field("Barge", name), field("IMO", imo),
        h("button", { type: "submit", class: "btn" }, "Submit barge")), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError(error);
      try {
        await this.ctx.conn.request("submit_barge", {
          auction_id: this.auctionId, barge: { name: name.value.trim(), imo: imo.value.trim() },
        });
        name.value = "";
        imo.value = "";
      } catch (err) {
        showError(error, err);
      }
    });
    return form;
  }

  renderComments(view) {
    const error = errorLine();
    const rows = view.comments.map((c) => h("li", {},
      h("span", {}, `“${c.text}”`), " ", h("time", { class: "muted" }, time(c.at)), " ",
      actionButton("Delete", () =>
        this.ctx.conn.request("delete_comment", { auction_id: this.auctionId, comment_id: c.comment_id }),
      { errorEl: error, cls: "btn small ghost" })));
    fill(this.comments, rows.length ? h("ul", { class: "plain", "data-testid": "comments" }, rows)
      : h("p", { class: "muted" }, "No comments."), error);
  }

  makeCommentForm() {
    const text = h("input", { name: "comment_text", placeholder: "A note for the buyer", autocomplete: "off" });
    const error = errorLine();
    const form = h("form", { class: "inline-form", novalidate: true },
      h("fieldset", {}, field("Comment", text), h("button", { type: "submit", class: "btn" }, "Post")), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearError(error);
      try {
        await this.ctx.conn.request("post_comment", { auction_id: this.auctionId, text: text.value });
        text.value = "";
      } catch (err) {
        showError(error, err);
      }
    });
    return form;
  }
}
