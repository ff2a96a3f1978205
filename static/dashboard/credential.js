// The dashboard's credential: a token handed over in the address's #fragment (the projector link),
// kept for this tab only, or else the organiser's login cookie, which the browser sends by itself.

const KEY = "checkin.dashboard.token";

/** The event's slug, from /dashboard/{slug} or /dashboard/{slug}/report. */
export function eventSlug() {
  return decodeURIComponent(location.pathname.split("/")[2] || "");
}

/** Take a #token=… out of the address bar (so it is not shown, bookmarked or shared) into this tab's storage. */
export function takeToken(slug) {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token) {
    sessionStorage.setItem(`${KEY}:${slug}`, token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(`${KEY}:${slug}`);
}

/** Forget a token the server refused (revoked, or not a dashboard token), so the login cookie is tried. */
export function forgetToken(slug) {
  sessionStorage.removeItem(`${KEY}:${slug}`);
}

export function socketUrl(slug, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}://${location.host}/ws/events/${encodeURIComponent(slug)}/dashboard${query}`;
}

/** GET a JSON API path with the token (if any), else the cookie; returns {status, body}. */
export async function getJson(path, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(path, { headers, credentials: "same-origin", cache: "no-store" });
  const body = await response.json().catch(() => null);
  return { status: response.status, body };
}
