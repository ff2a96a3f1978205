// The result screen: fills the view with the result's colour, the person's name with 様, their
// organisation, what staff should do next and a line per warning; returns to scanning by itself
// (tap to close sooner). A waitlisted person's result offers 「入場を許可」, which sends the scan again
// with `admit` (a new scan_id); it and results with a warning stay up longer, for staff to read and decide.

import { clock, t } from "./messages.js";
import { beep } from "./sound.js";

const TONES = {
  ok: "ok",
  already_checked_in: "warn",
  not_checked_in: "warn",
  waitlisted: "warn",
  exited: "exit",
  undone: "exit",
};
const NEXT = {
  waitlisted: "next.waitlisted",
  invalid: "next.search",
  unknown: "next.search",
  not_in_local_data: "next.search",
  wrong_event: "next.search",
  revoked: "next.organisers",
  venue_full: "next.venue_full",
  not_checked_in: "next.organisers",
  error: "next.retry",
};
const TITLES = new Set([...Object.keys(NEXT), "exited", "undone"]);
const SHOWN_MS = { ok: 2000, exit: 2000, warn: 3000, bad: 3500 };
// Warnings that change what staff do: each gets a line of its own (registered_online is in the title).
const WARNINGS = ["waitlisted", "reentry", "walkin", "hall_full", "over_capacity", "already_exited"];
// Warnings that need staff to read them: the result stays up longer.
const URGENT = new Set(["hall_full", "over_capacity"]);
const DECIDING_MS = 15_000;

/** Places free in the hall by an answer's figures, as words ("3名"), or "unknown". */
function room(answer) {
  const free = answer.hall_capacity - answer.in_hall;
  return Number.isFinite(free) ? t("room.count", { count: Math.max(0, free) }) : t("room.unknown");
}

/** What the screen shows for a scan answer: tone, title, name line, organisation, next step, warnings, note. */
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
  } else if (result === "waitlisted") {
    title = t("result.waitlisted", { room: room(answer) });
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
    warning: WARNINGS.filter((code) => (answer.warnings ?? []).includes(code))
      .map((code) => t(`warning.${code}`))
      .join("\n"),
    note: answer.offline ? t("offline.decided") : "",
    admit: result === "waitlisted" && Boolean(answer.registrant),
    urgent: (answer.warnings ?? []).some((code) => URGENT.has(code)),
  };
}

export class ResultScreen {
  /** root: the result section; onUndo(registrant); onClose(answer) after it hides; onAdmit(scan). */
  constructor(root, onUndo, onClose, onAdmit) {
    this.root = root;
    this.onUndo = onUndo;
    this.onClose = onClose;
    this.onAdmit = onAdmit;
    this.timer = null;
    this.answer = null;
    this.scan = null;
    root.addEventListener("click", (event) => {
      if (event.target.closest("[data-admit]")) {
        event.stopPropagation();
        this.hide(false);
        this.onAdmit(this.scan);
      } else if (event.target.closest("[data-undo]")) {
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

  /** Show an answer; `undoable` puts an undo button on it; `scan` is what an admit sends again. */
  show(answer, undoable = false, scan = null) {
    const view = describe(answer);
    this.answer = answer;
    this.scan = scan;
    this.lastRegistrant = answer.registrant;
    this.root.dataset.tone = view.tone;
    this.root.dataset.result = answer.result;
    for (const part of ["title", "name", "organisation", "next", "warning", "note"]) {
      const element = this.root.querySelector(`[data-part="${part}"]`);
      element.textContent = view[part];
      element.hidden = !view[part];
    }
    const undo = this.root.querySelector("[data-undo]");
    undo.textContent = t("undo");
    undo.hidden = !undoable;
    const admit = this.root.querySelector("[data-admit]");
    admit.textContent = t("admit");
    admit.hidden = !(view.admit && scan);
    this.root.hidden = false;
    beep(view.tone);
    clearTimeout(this.timer);
    const deciding = !admit.hidden || view.urgent;
    this.timer = setTimeout(() => this.hide(), deciding ? DECIDING_MS : SHOWN_MS[view.tone]);
  }

  hide(notify = true) {
    clearTimeout(this.timer);
    if (this.root.hidden) return;
    this.root.hidden = true;
    if (notify) this.onClose(this.answer);
  }
}
