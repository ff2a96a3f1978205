// Pairing: the device token comes from a one-time pairing code typed in (or #pair=CODE from the
// pairing QR), or directly from /kiosk#token=TOKEN for scripted set-ups. It is kept in
// localStorage; the address bar never keeps it.

import { Offline, pair } from "./api.js";
import { t } from "./messages.js";

const TOKEN_KEY = "kiosk.token";
const REVOKED_KEY = "kiosk.revoked";

/** Take #token= or #pair= off the address at once; returns {token} or {pairingCode} or {}. */
export function takeFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("token") && !params.has("pair")) return {};
  history.replaceState(null, "", location.pathname + location.search);
  return { token: params.get("token") ?? undefined, pairingCode: params.get("pair") ?? undefined };
}

export function storedToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function keepToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.removeItem(REVOKED_KEY);
}

/** Forget a refused token; the pairing screen says why until the kiosk is paired again. */
export function forgetRevokedToken() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.setItem(REVOKED_KEY, "1");
}

export function wasRevoked() {
  return localStorage.getItem(REVOKED_KEY) === "1";
}

/** Show the pairing form (with a message) until a code gives a token; resolves to that token. */
export function askForPairing(root, message = "", pairingCode = undefined) {
  const form = root.querySelector("form");
  const note = root.querySelector("[data-pair-message]");
  const show = (text) => {
    note.textContent = text;
    note.hidden = !text;
  };
  root.hidden = false;
  show(message);
  return new Promise((resolve) => {
    const attempt = async (code) => {
      try {
        const answer = await pair(code.trim());
        form.removeEventListener("submit", onSubmit);
        root.hidden = true;
        keepToken(answer.token);
        resolve(answer.token);
      } catch (error) {
        show(t(error instanceof Offline ? "pair.offline" : "pair.failed"));
      }
    };
    const onSubmit = (event) => {
      event.preventDefault();
      attempt(form.elements.code.value);
    };
    form.addEventListener("submit", onSubmit);
    if (pairingCode) attempt(pairingCode);
    else form.elements.code.focus();
  });
}
