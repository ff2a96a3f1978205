// The presence socket of one viewer: tells the server whether this page is watching, reconnects with
// exponential backoff and full jitter (so that thousands of viewers do not all return in the same second
// after a server restart), and reports its state to the page.

const BASE_DELAY_MS = 1500;
const MAX_DELAY_MS = 60000;
// Close codes after which retrying cannot help: the link is not (or no longer) a viewer of this event.
const FINAL = new Set([4400, 4403, 4404]);
const BUSY = new Set([4429]);

function backoffDelay(attempt, random = Math.random) {
  // "Full jitter": anywhere between 0 and the exponential ceiling.
  return Math.floor(random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
}

export class PresenceSocket {
  constructor(url, onStatus) {
    this.url = url;
    this.onStatus = onStatus;
    this.watching = false;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.connect();
    // A closing tab says goodbye, so the server starts the grace period now rather than at the next ping.
    addEventListener("pagehide", () => this.socket && this.socket.close(1000));
    addEventListener("pageshow", (event) => event.persisted && this.retryNow());
    addEventListener("online", () => this.retryNow());
  }

  setWatching(watching) {
    if (watching === this.watching) return;
    this.watching = watching;
    this.send();
  }

  send() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "state", watching: this.watching }));
    }
  }

  connect() {
    this.timer = null;
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "hello") {
        this.attempt = 0;
        this.onStatus("connected");
        this.send();
      }
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (FINAL.has(event.code)) {
        this.stopped = true;
        this.onStatus("refused");
        return;
      }
      this.onStatus(BUSY.has(event.code) ? "busy" : "reconnecting");
      this.timer = setTimeout(() => this.connect(), backoffDelay(this.attempt));
      this.attempt += 1;
    });
  }

  retryNow() {
    if (this.timer === null || this.stopped) return;
    clearTimeout(this.timer);
    this.connect();
  }
}
