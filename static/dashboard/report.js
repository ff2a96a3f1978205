// The after-event report: the final figures and charts, the kiosks' totals and the no-show list.

import { TimeChart } from "./charts.js";
import { eventSlug, getJson, takeToken } from "./credential.js";
import { applyLanguage, currentLanguage, formatDateTime, rememberLanguage, t } from "./messages.js";
import { buildFigures, renderFigures, renderKiosks } from "./view.js";

const byId = (id) => document.getElementById(id);
const slug = eventSlug();
const token = takeToken(slug);
let lang = currentLanguage();
let report = null;
let problem = "loading";

const charts = [
  [new TimeChart(byId("chart-arrivals"), "bars"), "arrivals_series", "arrivals"],
  [new TimeChart(byId("chart-online"), "line"), "online_series", "online"],
];

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

function renderNoShows(rows) {
  const tbody = byId("no-shows");
  tbody.replaceChildren();
  byId("no-show-count").textContent = t(lang, "no_shows_count", { count: rows.length });
  if (rows.length === 0) {
    const td = tbody.insertRow().insertCell();
    td.colSpan = 5;
    td.className = "empty";
    td.textContent = t(lang, "no_shows_none");
  }
  for (const row of rows) {
    const tr = tbody.insertRow();
    for (const text of [row.ref_no, row.name, row.kana, row.organisation, row.watched_online ? t(lang, "watched_yes") : ""]) {
      tr.insertCell().textContent = text;
    }
  }
}

function render() {
  applyLanguage(lang);
  document.title = `${t(lang, "report_title")} – ${slug}`;
  for (const [chart, label] of charts) chart.build(t(lang, label));
  byId("banner").hidden = problem === null;
  byId("banner-text").textContent = problem ? t(lang, problem) : "";
  byId("login").hidden = !(problem === "denied_4401" || problem === "denied_4403");
  if (!report) return;
  const snapshot = report.snapshot;
  document.body.classList.remove("waiting");
  byId("as-of").textContent = t(lang, "report_as_of", { time: formatDateTime(lang, snapshot.at) });
  renderFigures(snapshot, lang);
  renderKiosks(byId("kiosks"), snapshot.kiosks, lang);
  renderNoShows(report.no_shows);
  for (const [chart, , key] of charts) chart.update(snapshot.series[key]);
  byId("anonymous-refused").textContent = t(lang, "anonymous_refused", { count: report.anonymous_refused });
  byId("anonymous-refused").hidden = false;
  byId("csv").href = report.export_url;
  byId("csv").hidden = false;
}

buildFigures(byId("figures"));
byId("slug").textContent = slug;
byId("login").href = `/admin/login?next=${encodeURIComponent(location.pathname)}`;
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
