// Drawing into the dashboard pages: the big figures, the kiosks, the latest check-ins, tables and the banner.

import { formatNumber, formatTime, translate } from "./messages.js";

// The big figures, in the glossary's words; built once per page so both pages show them alike.
const FIGURES = [
  { label: "checked_in", field: "venue.checked_in", wide: true },
  { label: "in_hall", field: "venue.in_hall" },
  { label: "online_now", field: "online.now" },
  { label: "online_peak", field: "online.peak", note: "peak-at" },
  { label: "online_unique", field: "online.unique" },
  { label: "total", field: "total.attended", wide: true, total: true },
];

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

const number = (path) => element("span", { "data-field": path }, "–");
const words = (key) => element("span", { "data-i18n": key });

/** The figure panels, with [data-i18n] labels (filled by applyLanguage) and [data-field] values. */
export function buildFigures(section) {
  for (const figure of FIGURES) {
    const value = element("p", { class: "value" }, number(figure.field));
    const panel = element("article", { class: `figure${figure.wide ? " wide" : ""}${figure.total ? " total" : ""}` });
    panel.dataset.figure = figure.field;
    panel.append(element("h2", {}, words(figure.label)), value);
    if (figure.field === "venue.checked_in") {
      value.append(element("span", { class: "of" }, " / ", words("capacity"), " ", number("venue.capacity")));
      const meter = element("div", { class: "meter", "aria-hidden": "true" }, element("div", { class: "fill", id: "capacity-fill" }));
      panel.append(meter, element("p", { class: "note" }, words("registered"), " ", number("venue.registered")));
    }
    if (figure.field === "venue.in_hall") {
      value.append(element("span", { class: "of" }, " / ", words("hall_capacity"), " ", number("venue.hall_capacity")));
    }
    if (figure.note) panel.append(element("p", { class: "note", id: figure.note }));
    if (figure.total) panel.append(element("p", { class: "note" }, words("total_note")));
    section.append(panel);
  }
}

function field(snapshot, path) {
  return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), snapshot);
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Fill a table body, or show one row with `empty` when there is nothing. */
export function fillRows(tbody, items, columns, empty, addRow) {
  tbody.replaceChildren();
  if (items.length === 0) {
    const td = tbody.insertRow().insertCell();
    td.colSpan = columns;
    td.className = "empty";
    td.textContent = empty;
    return;
  }
  for (const item of items) addRow(tbody.insertRow(), item);
}

/** Every [data-field] element shows its snapshot value; the capacity bar and peak time follow. */
export function renderFigures(snapshot, lang) {
  for (const element of document.querySelectorAll("[data-field]")) {
    element.textContent = formatNumber(lang, field(snapshot, element.dataset.field));
  }
  const { capacity, checked_in: checkedIn } = snapshot.venue;
  const fill = document.getElementById("capacity-fill");
  if (fill) fill.style.width = `${capacity > 0 ? Math.min(100, (100 * checkedIn) / capacity) : 0}%`;
  const peakAt = document.getElementById("peak-at");
  if (peakAt) peakAt.textContent = snapshot.online.peak_at ? translate("peak_at", lang, { time: formatTime(lang, snapshot.online.peak_at) }) : "";
}

/** The banner over the page: `text` (null: none), with the login link where logging in would help. */
export function showBanner(text, offerLogin) {
  document.getElementById("banner").hidden = text === null;
  document.getElementById("banner-text").textContent = text ?? "";
  const login = document.getElementById("login");
  login.hidden = !offerLogin;
  login.href = `/admin/login?next=${encodeURIComponent(location.pathname)}`;
}

// Below this many decoded camera frames a second, a code held up waits noticeably before it is read.
const SLOW_FPS = 5;

export function renderKiosks(tbody, kiosks, lang) {
  fillRows(tbody, kiosks, 6, translate("no_kiosks", lang), (row, kiosk) => {
    cell(row, kiosk.name, "name");
    const state = cell(row, translate(kiosk.online ? "kiosk_online" : "kiosk_offline", lang), kiosk.online ? "state on" : "state off");
    state.title = `${translate("last_seen", lang)}: ${formatTime(lang, kiosk.last_seen, true)}`;
    cell(row, formatTime(lang, kiosk.last_scan_at), "time");
    cell(row, formatNumber(lang, kiosk.scans), "number");
    cell(row, formatNumber(lang, kiosk.queue_length), kiosk.queue_length > 0 ? "number waiting" : "number");
    const fps = kiosk.decode_fps;
    const known = typeof fps === "number";
    const slow = known && kiosk.online && fps < SLOW_FPS;
    const speed = cell(row, known ? translate("fps", lang, { fps: formatNumber(lang, fps) }) : "–", slow ? "number fps slow" : "number fps");
    if (slow) speed.title = translate("fps_slow", lang, { fps: formatNumber(lang, fps) });
  });
}

export function renderLatest(tbody, checkins, lang) {
  // A projector of an event that keeps names off gets neither reference numbers nor names: no columns for them.
  tbody.closest("table")?.classList.toggle("no-names", checkins.length > 0 && !("name" in checkins[0]));
  fillRows(tbody, checkins, 4, translate("no_checkins", lang), (row, checkin) => {
    cell(row, formatTime(lang, checkin.at, true), "time");
    cell(row, checkin.ref_no ?? "", "ref");
    cell(row, checkin.name ?? "", "name");
    cell(row, checkin.kiosk, "kiosk");
  });
}
