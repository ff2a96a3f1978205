// The live dashboard page: follows the event's snapshots and says plainly when they are stale.

import { ReconnectingSocket } from "/static/common/socket.js";
import { makeCharts } from "./charts.js";
import { eventSlug, forgetToken, socketUrl, takeToken } from "./credential.js";
import { applyLanguage, currentLanguage, eventIdentity, formatEventDate, formatTime, rememberLanguage, translate } from "./messages.js";
import { buildFigures, renderFigures, renderKiosks, renderLatest, showBanner } from "./view.js";

// The server sends a snapshot at least every ~5 s: twice that without one means the figures are old.
const STALE_MS = 10_000;
const QUIET_START_MS = 2_000;

const byId = (id) => document.getElementById(id);
const slug = eventSlug();
const openedAt = Date.now();
let token = takeToken(slug);
let lang = currentLanguage();
let latest = null;
let receivedAt = 0;
let connection = "connecting";
let refusedCode = null;

const charts = makeCharts(byId);
const identity = eventIdentity();

function buildCharts() {
  for (const [chart, label] of charts) chart.build(translate(label, lang));
}

function show(snapshot) {
  latest = snapshot;
  receivedAt = Date.now();
  renderFigures(snapshot, lang);
  renderKiosks(byId("kiosks"), snapshot.kiosks, lang);
  renderLatest(byId("latest"), snapshot.latest_checkins || [], lang);
  for (const [chart, , key] of charts) chart.update(snapshot.series[key]);
  document.body.classList.remove("waiting");
  document.body.dataset.seq = String(snapshot.seq);
  showFreshness();
}

/** The banner's words for the current state, or null when the figures are live. */
function staleness() {
  if (connection === "refused") return translate(`denied_${refusedCode}`, lang);
  if (!latest) return Date.now() - openedAt > QUIET_START_MS ? translate("stale_never", lang) : null;
  const time = formatTime(lang, latest.at, true);
  if (connection !== "open") return translate("stale_disconnected", lang, { time });
  if (Date.now() - receivedAt > STALE_MS) return translate("stale_quiet", lang, { time });
  return null;
}

function showFreshness() {
  const text = staleness();
  document.body.classList.toggle("stale", text !== null);
  showBanner(text, connection === "refused" && refusedCode !== 4404);
  byId("updated").textContent = latest ? translate("updated", lang, { time: formatTime(lang, latest.at, true) }) : "";
}

function setLanguage(next) {
  lang = next;
  applyLanguage(lang);
  document.title = `${translate("title", lang)} – ${identity.title || slug}`;
  byId("event-title").textContent = identity.title || slug;
  byId("event-date").textContent = formatEventDate(lang, identity.starts, identity.ends);
  buildCharts();
  if (latest) show(latest);
  showFreshness();
}

function setProjector(on) {
  document.body.classList.toggle("projector", on);
  byId("projector").setAttribute("aria-pressed", String(on));
  const url = new URL(location.href);
  if (on) url.searchParams.set("projector", "1");
  else url.searchParams.delete("projector");
  history.replaceState(null, "", url.pathname + url.search);
  buildCharts();
}

// The server's refusals: the page stops retrying and says why (after trying the login cookie, if a token failed).
const REFUSED = new Set([4401, 4403, 4404]);

function setConnection(state, code = null) {
  connection = state;
  refusedCode = code;
  showFreshness();
}

// The server sends at least one snapshot every ~5 s: a silent socket is a half-open one.
const feed = new ReconnectingSocket(
  () => socketUrl(slug, token),
  {
    connecting: () => setConnection("connecting"),
    open: () => setConnection("open"),
    message(message) {
      if (message.type === "snapshot") show(message);
    },
    closed(code) {
      const refused = REFUSED.has(code);
      if (refused && !token) {
        setConnection("refused", code);
        return "stop";
      }
      setConnection("closed", code);
      if (!refused) return "later";
      forgetToken(slug); // a refused token: the organiser's login may still work
      token = null;
      return "now";
    },
  },
  { firstDelayMs: 500, maxDelayMs: 30_000, silentMs: 20_000 },
);

buildFigures(byId("figures"));
byId("report-link").href = `/dashboard/${encodeURIComponent(slug)}/report`;
byId("lang").addEventListener("click", () => {
  rememberLanguage(lang === "ja" ? "en" : "ja");
  setLanguage(currentLanguage());
});
byId("projector").addEventListener("click", () => setProjector(!document.body.classList.contains("projector")));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("projector")) setProjector(false);
});
document.body.classList.toggle("projector", new URLSearchParams(location.search).get("projector") === "1");
byId("projector").setAttribute("aria-pressed", String(document.body.classList.contains("projector")));
setLanguage(lang);
setInterval(showFreshness, 1000);
feed.start();
