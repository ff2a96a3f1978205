// The after-event report (参加報告): who the event was, how many came and how, who did not, and when
// these figures were taken (printed with them).

import { makeCharts } from "./charts.js";
import { eventSlug, getJson, takeToken } from "./credential.js";
import {
  applyLanguage,
  currentLanguage,
  formatAsOf,
  formatEventDate,
  formatNumber,
  formatTime,
  rememberLanguage,
  translate,
} from "./messages.js";
import { fillRows, showBanner } from "./view.js";

const byId = (id) => document.getElementById(id);
const slug = eventSlug();
const token = takeToken(slug);
let lang = currentLanguage();
let report = null;
let problem = "loading";

const charts = makeCharts(byId);

/** The report with the login cookie first (organisers), then with the tab's token if it has one. */
async function load() {
  let answer = await getJson(`/api/v1/events/${encodeURIComponent(slug)}/report`);
  if ((answer.status === 401 || answer.status === 403) && token) {
    answer = await getJson(`/api/v1/events/${encodeURIComponent(slug)}/report`, token);
  }
  if (answer.status === 200) {
    report = answer.body;
    problem = null;
  } else {
    problem = { 401: "denied_4401", 403: "denied_4403", 404: "denied_4404" }[answer.status] || "load_failed";
  }
}

/** A <dl> of [label key, value text, note, field] rows; the field names the figure for tools and tests. */
function fillList(list, rows) {
  list.replaceChildren();
  for (const [label, value, note, field] of rows) {
    const item = document.createElement("div");
    const term = document.createElement("dt");
    term.textContent = translate(label, lang);
    const detail = document.createElement("dd");
    const number = document.createElement("span");
    number.className = "value";
    number.textContent = value;
    if (field) number.dataset.figure = field;
    detail.append(number);
    if (note) {
      const small = document.createElement("span");
      small.className = "note";
      small.textContent = note;
      detail.append(" ", small);
    }
    item.append(term, detail);
    list.append(item);
  }
}

const people = (count) => translate("people", lang, { count: formatNumber(lang, count) });
const minutes = (count) => (count == null ? "–" : translate("minutes", lang, { count: formatNumber(lang, count) }));

function percent(rate) {
  if (rate == null) return "–";
  return new Intl.NumberFormat(lang === "ja" ? "ja-JP" : "en-GB", { style: "percent", maximumFractionDigits: 1 }).format(rate);
}

function renderIdentity(event) {
  const venue = [event.venue_name, event.venue_address].filter(Boolean).join("　");
  const rows = [
    ["event_name", event.title],
    ["event_date", formatEventDate(lang, event.starts_at, event.ends_at)],
  ];
  if (venue) rows.push(["event_venue", venue]);
  if (event.organisers) rows.push(["event_organisers", event.organisers]);
  fillList(byId("identity"), rows);
}

function renderReportFigures(figures) {
  const { venue, online } = figures;
  fillList(byId("venue-figures"), [
    ["attendance_rate", percent(venue.rate), translate("rate_note", lang, { arrived: venue.arrived, registered: venue.registered }), "venue.rate"],
    ["pre_registered", people(venue.registered), "", "venue.registered"],
    ["pre_registered_arrived", people(venue.arrived), "", "venue.arrived"],
    ["no_shows_short", people(venue.no_shows), "", "venue.no_shows"],
    ["walk_ins", people(venue.walk_ins), "", "venue.walk_ins"],
    ["online_at_venue", people(venue.online_registrants), "", "venue.online_registrants"],
    ["checked_in_total", people(venue.checked_in), "", "venue.checked_in"],
  ]);
  const peakAt = online.peak_at ? translate("peak_at", lang, { time: formatTime(lang, online.peak_at) }) : "";
  fillList(byId("online-figures"), [
    ["online_unique", people(online.unique), translate("unique_note", lang, { registrants: online.registrants, anonymous: online.anonymous }), "online.unique"],
    ["online_peak", people(online.peak), peakAt, "online.peak"],
    ["minutes_total", minutes(online.minutes), "", "online.minutes"],
    ["minutes_per_viewer", minutes(online.minutes_per_viewer), "", "online.minutes_per_viewer"],
  ]);
  fillList(byId("overall-figures"), [
    ["both_ways", people(figures.both), "", "both"],
    ["total", people(figures.total), translate("total_note", lang), "total"],
  ]);
}

/** A table of people, a row of `cells(row)` texts each, or one row with the `empty` message. */
function fillTable(tbody, rows, columns, empty, cells) {
  fillRows(tbody, rows, columns, translate(empty, lang), (tr, row) => {
    for (const text of cells(row)) tr.insertCell().textContent = text;
  });
}

function render() {
  applyLanguage(lang);
  document.title = `${translate("report_title", lang)} – ${report?.event.title || slug}`;
  for (const [chart, label] of charts) chart.build(translate(label, lang));
  showBanner(problem ? translate(problem, lang) : null, problem === "denied_4401" || problem === "denied_4403");
  if (!report) return;
  document.body.classList.remove("waiting");
  byId("event-title").textContent = report.event.title;
  byId("as-of").textContent = formatAsOf(lang, report.as_of);
  renderIdentity(report.event);
  renderReportFigures(report.figures);
  for (const [chart, , key] of charts) chart.update(report.snapshot.series[key]);
  byId("no-show-count").textContent = people(report.no_shows.length);
  fillTable(byId("no-shows"), report.no_shows, 5, "no_shows_none", (row) => [
    row.ref_no, row.name, row.kana, row.organisation, row.watched_online ? translate("watched_yes", lang) : "",
  ]);
  byId("walk-in-count").textContent = people(report.walk_ins.length);
  fillTable(byId("walk-ins"), report.walk_ins, 4, "walk_ins_none", (row) => [
    row.ref_no, row.name, row.organisation, formatTime(lang, row.checked_in_at),
  ]);
  byId("anonymous-refused").textContent = translate("anonymous_refused", lang, { count: report.anonymous_refused });
  byId("anonymous-refused").hidden = report.anonymous_refused === 0;
  for (const kind of ["xlsx", "csv"]) {
    byId(kind).href = report.exports[kind];
    byId(kind).hidden = false;
  }
}

byId("dashboard-link").href = `/dashboard/${encodeURIComponent(slug)}`;
byId("print").addEventListener("click", () => window.print());
byId("lang").addEventListener("click", () => {
  rememberLanguage(lang === "ja" ? "en" : "ja");
  lang = currentLanguage();
  render();
});
render();
load()
  .catch(() => {
    problem = "load_failed";
  })
  .finally(render);
