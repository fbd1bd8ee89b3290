// Cues a trader must not miss (outbid, bidding extended): a banner in the sticky head, a short
// beep (WebAudio, no sound file), and while the tab is hidden a flashing title until it is seen.
// Browsers only let sound start after a user gesture: the audio context is made on the first one.

import { fill, h } from "./dom.js";

/** Every cue given, for tests and support: `{kind, text, sound, hidden}`. */
export const cues = [];

let audio = null;
let flash = null; // {text, since}: the title alternates with `text` while the tab is hidden

function unlock() {
  if (!audio && typeof AudioContext === "function") audio = new AudioContext();
  if (audio && audio.state === "suspended") audio.resume();
}
for (const type of ["pointerdown", "keydown"]) window.addEventListener(type, unlock, { capture: true });
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) flash = null;
});

/** Two short tones for outbid, one longer for an extension; false when no sound could play. */
function beep(kind) {
  if (!audio || audio.state !== "running") return false;
  const tones = kind === "outbid" ? [[880, 0], [660, 0.18]] : [[520, 0]];
  const start = audio.currentTime;
  for (const [frequency, offset] of tones) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    const t = start + offset;
    const length = kind === "outbid" ? 0.15 : 0.35;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + length);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + length + 0.02);
  }
  return true;
}

/** The page's title as the ticker sets it: alternating with the cue while one is flashing. */
export function flashTitle(title) {
  if (!flash || !document.hidden) return title;
  return Math.floor((Date.now() - flash.since) / 1000) % 2 === 0 ? flash.text : title;
}

/** A screen's alert banner: `show(kind, text)` gives every cue at once. */
export class AlertBar {
  constructor() {
    this.text = h("span", { class: "alert-text" });
    this.el = h("div", { class: "alert-bar", role: "alert", "data-testid": "alert", hidden: true },
      this.text,
      h("button", { type: "button", class: "btn small ghost", "aria-label": "Dismiss the alert",
        onclick: () => this.hide() }, "OK"));
  }

  show(kind, text) {
    fill(this.text, text);
    this.el.dataset.kind = kind;
    this.el.hidden = false;
    // Restart the highlight animation for a repeated cue.
    this.el.classList.remove("fresh");
    void this.el.offsetWidth;
    this.el.classList.add("fresh");
    const sound = beep(kind);
    if (document.hidden) flash = { text: kind === "outbid" ? "⚠ Outbid!" : "⏱ Extended!", since: Date.now() };
    cues.push({ kind, text, sound, hidden: document.hidden });
  }

  hide() {
    this.el.hidden = true;
  }
}
