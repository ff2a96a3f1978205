// The snapshot feed: one websocket that reconnects by itself (exponential backoff with full jitter,
// so a hundred dashboards do not all knock at once after a restart), and stops only when refused.

const REFUSED = new Set([4401, 4403, 4404]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
// The server sends at least one snapshot every ~5 s; far longer means a half-open connection.
const SILENT_MS = 20_000;

export class LiveFeed {
  /**
   * @param {() => string} url  the socket address (asked anew on each attempt: the credential may change)
   * @param {{snapshot: (s: object) => void, state: (state: string, code?: number) => void,
   *          refused: (code: number) => boolean}} on
   *   `refused` returns true to try again at once (another credential to try), false to stop.
   */
  constructor(url, on) {
    this.url = url;
    this.on = on;
    this.attempts = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
    this.lastMessage = 0;
  }

  start() {
    this.connect();
    setInterval(() => this.watch(), 1000);
    window.addEventListener("online", () => this.now());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.now();
    });
  }

  /** Connected and hearing from the server. */
  get live() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    this.on.state("connecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.lastMessage = Date.now();
      this.on.state("open");
    };
    socket.onmessage = (event) => {
      this.attempts = 0; // only a socket that delivers counts as a success
      this.lastMessage = Date.now();
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") this.on.snapshot(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (REFUSED.has(event.code) && !this.on.refused(event.code)) {
        this.stopped = true;
        this.on.state("refused", event.code);
        return;
      }
      this.on.state("closed", event.code);
      this.schedule(REFUSED.has(event.code) ? 0 : this.delay());
    };
  }

  delay() {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempts);
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
    if (!this.live || Date.now() - this.lastMessage <= SILENT_MS) return;
    // A half-open connection may never finish closing: drop it and dial anew.
    const socket = this.socket;
    this.socket = null;
    socket.close(4000, "silent");
    this.on.state("closed", 4000);
    this.schedule(this.delay());
  }
}
