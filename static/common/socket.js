// A websocket that comes back by itself, shared by the live pages (dashboard, projector, watch page).
// Exponential backoff with full jitter, so a hundred dashboards and thousands of viewers do not all
// knock at once after a server restart (close code 1012); the address is asked anew on every attempt,
// so the page reaches whatever server answers then. It stops only when the page calls a close final.

export class ReconnectingSocket {
  /**
   * @param {() => string} url  the socket address, asked on each attempt (the credential may change)
   * @param {{connecting?: () => void, open?: () => void, message: (m: object) => void,
   *          closed: (code: number) => "stop" | "now" | "later"}} on
   *   `closed` says what a close means: "stop" (final), "now" (try again at once) or "later" (back off).
   * @param {{firstDelayMs?: number, maxDelayMs?: number, silentMs?: number}} options
   *   `silentMs`: a connection silent this long is taken for half-open and dialled anew (0: never).
   */
  constructor(url, on, { firstDelayMs = 1000, maxDelayMs = 30_000, silentMs = 0 } = {}) {
    this.url = url;
    this.on = on;
    this.firstDelayMs = firstDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.silentMs = silentMs;
    this.attempts = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
    this.lastMessage = 0;
  }

  start() {
    this.connect();
    if (this.silentMs > 0) setInterval(() => this.watch(), 1000);
    // A closing tab says goodbye, so the server lets go of it now rather than at its next ping.
    addEventListener("pagehide", () => this.socket?.close(1000));
    addEventListener("pageshow", (event) => event.persisted && this.now());
    addEventListener("online", () => this.now());
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && this.now());
  }

  /** Connected: messages can be sent. */
  get open() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (this.open) this.socket.send(JSON.stringify(message));
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.on.connecting?.();
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.lastMessage = Date.now();
      this.on.open?.();
    });
    socket.addEventListener("message", (event) => {
      this.attempts = 0; // only a socket that delivers counts as a success
      this.lastMessage = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.on.message(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) this.closed(event.code);
    });
  }

  closed(code) {
    this.socket = null;
    const next = this.on.closed(code);
    if (next === "stop") this.stopped = true;
    else this.schedule(next === "now" ? 0 : this.delay());
  }

  /** Full jitter: anywhere between 0 and the exponential ceiling. */
  delay() {
    const ceiling = Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** this.attempts);
    this.attempts += 1;
    return Math.random() * ceiling;
  }

  schedule(ms) {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => this.connect(), ms);
  }

  /** Try again without waiting (the network came back, the page became visible). */
  now() {
    if (!this.stopped && !this.socket) this.connect();
  }

  watch() {
    if (!this.open || Date.now() - this.lastMessage <= this.silentMs) return;
    // A half-open connection may never finish closing: drop it and dial anew.
    this.socket.close(4000, "silent");
    this.closed(4000);
  }
}
