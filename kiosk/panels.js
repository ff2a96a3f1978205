// The two panels beside scanning: search (check in someone without a QR code) and walk-in
// (register and check in at once).

import { Offline, Refused } from "./api.js";
import { clock, t } from "./messages.js";

const DEBOUNCE_MS = 200;
// More rows than this are too many to scan by eye at the door: show these, and ask for more of the name.
const SHOWN_ROWS = 20;
// The server's rules for a walk-in (checkin/registration.py), checked here too so that a walk-in
// registered offline is not refused when the queue is sent.
const KANA = /^[\u30a0-\u30ff\u3040-\u309f\u30fc\s・ー]+$/u;
// One address: no lists, display names or quotes (the server checks RFC 5321/5322 syntax in full).
const EMAIL = /^[^@\s,;<>"]+@[^@\s,;<>"]+\.[^@\s,;<>"]+$/u;

/** The message for the first problem of a walk-in's details, or "" when they are fine. */
export function walkinProblem(fields) {
  if (!fields.name || !fields.kana) return t("walkin.required");
  if (!KANA.test(fields.kana.normalize("NFKC"))) return t("walkin.not_kana");
  if (fields.email && !EMAIL.test(fields.email.normalize("NFKC"))) return t("walkin.bad_email");
  return "";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

export class SearchPanel {
  /** door: Door (its api, local copy and online state); onPick(registrant): check this person in. */
  constructor(root, door, onPick) {
    this.root = root;
    this.door = door;
    this.onPick = onPick;
    this.input = root.querySelector("input[type=search]");
    this.list = root.querySelector("[data-results]");
    this.note = root.querySelector("[data-search-note]");
    this.capped = root.querySelector("[data-search-capped]");
    this.timer = null;
    this.generation = 0;
    this.direction = "in";
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(this.input.value), DEBOUNCE_MS);
    });
    root.querySelector("form").addEventListener("submit", (event) => event.preventDefault());
  }

  open(direction) {
    this.direction = direction;
    this.root.hidden = false;
    this.input.focus();
    if (this.input.value) this.run(this.input.value);
  }

  close() {
    this.root.hidden = true;
    this.input.value = "";
    this.list.replaceChildren();
    this.note.hidden = true;
    this.capped.hidden = true;
  }

  /** Registrants matching a query: from the server, or from the local copy when it does not answer. */
  async find(query) {
    if (this.door.online) {
      try {
        const path = `/api/v1/events/${this.door.slug}/registrants?q=${encodeURIComponent(query)}`;
        return { registrants: (await this.door.api.get(path)).registrants, local: false };
      } catch (error) {
        // Past the server's search limit the kiosk is still online: this one search uses the local copy.
        const limited = error instanceof Refused && error.status === 429;
        if (!(error instanceof Offline) && !limited) throw error;
        if (!limited) this.door.setOnline(false);
      }
    }
    return { registrants: this.door.local.search(query), local: true };
  }

  async run(query) {
    const generation = ++this.generation;
    if (!query.trim()) {
      this.list.replaceChildren();
      this.note.hidden = true;
      this.capped.hidden = true;
      return;
    }
    const found = await this.find(query.trim()).catch(() => ({ registrants: [], local: false }));
    if (generation !== this.generation) return; // a newer query is on its way
    this.note.textContent = t("search.local");
    this.note.hidden = !found.local;
    const rows = found.registrants.slice(0, SHOWN_ROWS);
    this.list.replaceChildren(...rows.map((r) => this.row(r)));
    if (!rows.length) this.list.append(element("li", "empty", t("search.none")));
    this.capped.textContent = t("search.capped", { count: SHOWN_ROWS });
    this.capped.hidden = found.registrants.length <= SHOWN_ROWS;
  }

  row(registrant) {
    const item = element("li", "registrant");
    const who = element("div", "who");
    who.append(element("span", "name", t("honorific", { name: registrant.name })));
    who.append(element("span", "kana", registrant.kana));
    const facts = [registrant.organisation, registrant.ref_no, t(`mode.${registrant.mode}`)];
    if (registrant.status !== "registered") facts.push(t(`status.${registrant.status}`));
    const checkedInAt = this.door.local.checkedInAt(registrant.id) ?? registrant.checked_in_at;
    if (checkedInAt) facts.push(t("search.checked_in", { time: clock(checkedInAt) }));
    who.append(element("span", "facts", facts.filter(Boolean).join("・")));
    const button = element("button", "pick", t(this.direction === "out" ? "search.exit" : "search.checkin"));
    button.type = "button";
    button.addEventListener("click", () => this.onPick(registrant));
    item.append(who, button);
    return item;
  }
}

export class WalkinPanel {
  /** onSubmit(fields) resolves to true when the walk-in was checked in (the form then clears). */
  constructor(root, onSubmit) {
    this.root = root;
    this.form = root.querySelector("form");
    this.error = root.querySelector("[data-walkin-error]");
    this.form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = Object.fromEntries(new FormData(this.form));
      const fields = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, String(value).trim()]));
      const problem = walkinProblem(fields);
      if (problem) {
        this.showError(problem);
        return;
      }
      for (const optional of ["organisation", "email"]) if (!fields[optional]) delete fields[optional];
      const button = this.form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const result = await onSubmit(fields);
        if (result === true) this.close();
        else this.showError(result);
      } finally {
        button.disabled = false;
      }
    });
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  open() {
    this.root.hidden = false;
    this.form.elements.name.focus();
  }

  close() {
    this.root.hidden = true;
    this.form.reset();
    this.showError("");
  }
}
