// The server's JSON API with the device token, a time limit on every call, and two kinds of
// failure the kiosk treats differently: the server unreachable (decide offline) and the token
// refused (go back to pairing).

export class Offline extends Error {}
export class Unauthorized extends Error {}

/** An HTTP answer that is neither 2xx nor 401 nor 5xx: the server refused this request for good. */
export class Refused extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export const ANSWER_WITHIN_MS = 2000;

export class Api {
  /** token: the device token; onUnauthorized(): called once when the server refuses it. */
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
    this.refused = false;
  }

  /** JSON of a call; throws Offline (no answer in time, 5xx), Unauthorized (401) or Refused. */
  async call(method, path, body = undefined, timeoutMs = ANSWER_WITHIN_MS) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        signal: controller.signal,
      });
    } catch (error) {
      throw new Offline(String(error));
    } finally {
      clearTimeout(timer);
    }
    const data = await response.json().catch(() => null);
    if (response.status === 401) {
      if (!this.refused) {
        this.refused = true;
        this.onUnauthorized();
      }
      throw new Unauthorized(data?.error ?? "unauthorized");
    }
    if (response.status >= 500) throw new Offline(`HTTP ${response.status}`);
    if (!response.ok) throw new Refused(response.status, data);
    return data;
  }

  get(path, timeoutMs) {
    return this.call("GET", path, undefined, timeoutMs);
  }

  post(path, body, timeoutMs) {
    return this.call("POST", path, body, timeoutMs);
  }
}

/** Exchange a one-time pairing code for a device token (no token needed). */
export async function pair(code) {
  const response = await fetch("/api/v1/kiosk/pair", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
    cache: "no-store",
  }).catch((error) => {
    throw new Offline(String(error));
  });
  const data = await response.json().catch(() => null);
  if (response.status >= 500) throw new Offline(`HTTP ${response.status}`);
  if (!response.ok || !data?.token) throw new Refused(response.status, data);
  return data;
}

/** A random UUID (v4); crypto.randomUUID is missing on plain-http origins, getRandomValues is not. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
