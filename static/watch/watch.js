// The watch page: plays the event's stream and tells the presence socket whether the viewer is watching.
// A video (HLS or a file) counts while it plays on a visible page; an embed, whose player cannot be read,
// counts while the page is visible.
import { ReconnectingSocket } from "/static/common/socket.js";

const root = document.querySelector("[data-watch]");
const status = document.querySelector(".presence");
const { slug, ticket, kind, src } = root.dataset;

function browserId() {
  const key = "checkin.viewer";
  const fresh = () => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  try {
    let id = localStorage.getItem(key);
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
      id = fresh();
      localStorage.setItem(key, id);
    }
    return id;
  } catch {
    return fresh(); // storage blocked: this page load counts as its own viewer
  }
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const who = ticket ? `ticket=${encodeURIComponent(ticket)}` : `anon=${browserId()}`;
  return `${scheme}//${location.host}/ws/events/${encodeURIComponent(slug)}/watch?${who}`;
}

function showStatus(state) {
  status.dataset.state = state;
  status.querySelector(".text").textContent = root.dataset[`text${state[0].toUpperCase()}${state.slice(1)}`];
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
}

async function attachStream(video) {
  if (kind === "hls" && !video.canPlayType("application/vnd.apple.mpegurl")) {
    await loadScript("/static/vendor/hls/hls.min.js");
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls();
      hls.loadSource(src);
      hls.attachMedia(video);
      return;
    }
  }
  video.src = src;
}

// Close codes after which retrying cannot help: the link is not (or no longer) a viewer of this event.
const FINAL = new Set([4400, 4403, 4404]);
const BUSY = 4429;
const address = socketUrl(); // one viewer id for the page's life, even where storage is blocked
let watchingNow = false;

const presence = new ReconnectingSocket(
  () => address,
  {
    message(message) {
      if (message.type !== "hello") return;
      showStatus("connected");
      presence.send({ type: "state", watching: watchingNow });
    },
    closed(code) {
      if (FINAL.has(code)) {
        showStatus("refused");
        return "stop";
      }
      showStatus(code === BUSY ? "busy" : "reconnecting");
      return "later";
    },
  },
  { firstDelayMs: 1500, maxDelayMs: 60_000 },
);
const video = root.querySelector("video");
const visible = () => document.visibilityState === "visible";
const playing = () => visible() && !video.paused && !video.ended;
const watching = { video: playing, hls: playing, embed: visible }[kind] || (() => false);

/** Tell the server when the viewer starts or stops watching. */
function update() {
  if (watching() === watchingNow) return;
  watchingNow = !watchingNow;
  presence.send({ type: "state", watching: watchingNow });
}

if (video) {
  for (const name of ["play", "playing", "pause", "ended", "emptied"]) video.addEventListener(name, update);
  attachStream(video).catch((error) => console.error("stream", error));
}
if (kind !== "none") document.addEventListener("visibilitychange", update);
presence.start();
update();
