// The result screen: fills the view with the result's colour, the person's name with 様, their
// organisation and what staff should do next; returns to scanning by itself (tap to close sooner).

import { clock, t } from "./messages.js";
import { beep } from "./sound.js";

const TONES = { ok: "ok", already_checked_in: "warn", not_checked_in: "warn", exited: "exit", undone: "exit" };
const NEXT = {
  invalid: "next.search",
  unknown: "next.search",
  not_in_local_data: "next.search",
  wrong_event: "next.search",
  revoked: "next.organisers",
  venue_full: "next.organisers",
  not_checked_in: "next.organisers",
  error: "next.retry",
};
const TITLES = new Set([...Object.keys(NEXT), "exited", "undone"]);
const SHOWN_MS = { ok: 2000, exit: 2000, warn: 3000, bad: 3500 };

/** What the screen shows for a scan answer: tone, title, name line, organisation, next step, note. */
export function describe(answer) {
  const result = answer.result;
  const tone = TONES[result] ?? "bad";
  const registrant = answer.registrant;
  let title;
  let name = registrant?.name ? t("honorific", { name: registrant.name }) : "";
  if (result === "ok") {
    const online = (answer.warnings ?? []).includes("registered_online");
    title = t(online ? "result.ok.online" : "result.ok");
    name = registrant?.name ? t("result.ok.welcome", { name: registrant.name }) : "";
  } else if (result === "already_checked_in") {
    const time = clock(answer.first_checked_in_at);
    title = t("result.already_checked_in", { time, kiosk: answer.first_kiosk || "—" });
  } else {
    title = t(TITLES.has(result) ? `result.${result}` : "result.error");
  }
  return {
    tone,
    title,
    name,
    organisation: registrant?.organisation ?? "",
    next: NEXT[result] ? t(NEXT[result]) : "",
    note: answer.offline ? t("offline.decided") : "",
  };
}

export class ResultScreen {
  /** root: the result section; onUndo(registrant); onClose(answer) after it hides. */
  constructor(root, onUndo, onClose) {
    this.root = root;
    this.onUndo = onUndo;
    this.onClose = onClose;
    this.timer = null;
    this.answer = null;
    root.addEventListener("click", (event) => {
      if (event.target.closest("[data-undo]")) {
        event.stopPropagation();
        this.hide(false);
        this.onUndo(this.lastRegistrant);
      } else {
        this.hide();
      }
    });
  }

  get visible() {
    return !this.root.hidden;
  }

  /** Show an answer; `undoable` puts an undo button on it. */
  show(answer, undoable = false) {
    const view = describe(answer);
    this.answer = answer;
    this.lastRegistrant = answer.registrant;
    this.root.dataset.tone = view.tone;
    this.root.dataset.result = answer.result;
    for (const part of ["title", "name", "organisation", "next", "note"]) {
      const element = this.root.querySelector(`[data-part="${part}"]`);
      element.textContent = view[part];
      element.hidden = !view[part];
    }
    const undo = this.root.querySelector("[data-undo]");
    undo.textContent = t("undo");
    undo.hidden = !undoable;
    this.root.hidden = false;
    beep(view.tone);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), SHOWN_MS[view.tone]);
  }

  hide(notify = true) {
    clearTimeout(this.timer);
    if (this.root.hidden) return;
    this.root.hidden = true;
    if (notify) this.onClose(this.answer);
  }
}
