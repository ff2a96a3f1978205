// Continuous camera scanning with ZXing-C++ (WebAssembly) in a worker: one frame in flight at a time,
// the next taken when the worker answers (and no sooner than MIN_INTERVAL_MS after the last), so a slow
// tablet decodes at the rate it can sustain and never builds a backlog. Also tells the kiosk when a
// code has been in view for a while without being read, the decode rate for the heartbeat, the
// front/back camera switch and the torch.
//
// The browser's BarcodeDetector is not used even where it exists: it cannot say "a code is in view
// but unreadable", and one decoder everywhere reads the same as the tests measure.

const MAX_SIDE = 640; // enough pixels for a version-4 code held up to the camera; decode time grows with area
const MIN_INTERVAL_MS = 40; // at most 25 frames a second: a new code waits about a frame at most
const HINT_AFTER_MS = 2500; // a code seen but not read for this long: tell the person what to do
const HINT_GONE_MS = 1500; // no code seen for this long: the person has gone, so has the hint
const HINT_GONE_FRAMES = 6; // ...and in this many decoded frames in a row
const CLOSE_SHARE = 0.55; // a symbol wider than this share of the frame's short side is too close to focus
const FPS_WINDOW_MS = 10_000;
const WORKER_RETRY_MS = 5_000; // a worker that failed to load (server away, nothing cached) is tried again after this
const NOTHING = { text: null, seen: null };

class WorkerDecoder {
  constructor() {
    this.worker = null;
    this.failedAt = -Infinity;
    this.canvas = document.createElement("canvas");
    this.context = this.canvas.getContext("2d", { willReadFrequently: true });
    this.nextId = 0;
    this.pending = new Map();
  }

  /** The worker, started (again) when needed; null for a while after it failed to load. */
  ready() {
    if (this.worker || performance.now() - this.failedAt < WORKER_RETRY_MS) return this.worker;
    this.worker = new Worker(new URL("./qrworker.js", import.meta.url), { type: "module" });
    this.worker.onmessage = (event) => {
      this.pending.get(event.data.id)?.(event.data);
      this.pending.delete(event.data.id);
    };
    this.worker.onerror = () => {
      // Its script or the library did not load: answer what was asked, and start afresh later.
      for (const resolve of this.pending.values()) resolve(NOTHING);
      this.pending.clear();
      this.worker.terminate();
      this.worker = null;
      this.failedAt = performance.now();
    };
    return this.worker;
  }

  /** The worker's answer for the video's current frame: {text, seen}. */
  decode(video) {
    const worker = this.ready();
    if (!worker) return Promise.resolve(NOTHING);
    const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.context.drawImage(video, 0, 0, width, height);
    const { data } = this.context.getImageData(0, 0, width, height);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, width, height, buffer: data.buffer }, [data.buffer]);
    });
  }
}

/** "A code is in view but not read": which hint to give, from what the decoder saw, over time. */
class HintWatch {
  constructor() {
    this.since = 0; // when the current run of unread sightings began
    this.misses = 0; // decoded frames in a row without a sighting
    this.lastSeen = 0;
    this.share = 0;
  }

  /** One decoder answer at time `now`; returns "back" (move it back) or "brighten" to show, or null. */
  update({ text, seen }, now) {
    // Gone means unseen for a while *and* for several frames: a slow tablet decodes few frames a
    // second, and a blurred code is not found in every one of them.
    this.misses = seen ? 0 : this.misses + 1;
    if (text || (!seen && now - this.lastSeen >= HINT_GONE_MS && this.misses >= HINT_GONE_FRAMES)) {
      this.since = 0;
      return null;
    }
    if (seen) {
      if (!this.since) this.since = now;
      this.lastSeen = now;
      this.share = seen;
    }
    if (!this.since || now - this.since < HINT_AFTER_MS) return null;
    return this.share > CLOSE_SHARE ? "back" : "brighten";
  }
}

export class Camera {
  /**
   * video: the preview element; onCode(text): called with every decoded text; onHint(hint): called
   * when the hint changes ("back", "brighten" or null).
   */
  constructor(video, onCode, onHint = () => {}) {
    this.video = video;
    this.onCode = onCode;
    this.onHint = onHint;
    this.stream = null;
    this.decoder = null;
    this.busy = false;
    this.timer = null;
    this.frameWaiting = false;
    this.lastTaken = 0;
    this.startedAt = 0;
    this.decodedAt = []; // when each recent answer came, for the decode rate
    this.hints = new HintWatch();
    this.hint = null;
    this.devices = [];
    this.torchOn = false;
  }

  async start(deviceId = localStorage.getItem("kiosk.camera")) {
    this.stop();
    const video = deviceId
      ? { deviceId: { exact: deviceId } }
      : { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    } catch (error) {
      if (!deviceId) throw error;
      localStorage.removeItem("kiosk.camera"); // that camera is gone: take the default one
      return this.start(null);
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.decoder ??= new WorkerDecoder();
    this.startedAt = performance.now();
    const all = await navigator.mediaDevices.enumerateDevices();
    this.devices = all.filter((device) => device.kind === "videoinput");
    this.watchFrames(this.stream);
  }

  stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.torchOn = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.frameWaiting = false;
    this.decodedAt = [];
    this.setHint(null);
  }

  get track() {
    return this.stream?.getVideoTracks()[0] ?? null;
  }

  /** Frames the decoder answered per second over the last few seconds; null while not scanning. */
  get decodeFps() {
    const now = performance.now();
    this.decodedAt = this.decodedAt.filter((at) => now - at < FPS_WINDOW_MS);
    if (!this.stream) return null;
    if (this.decodedAt.length < 2) return now - this.startedAt >= FPS_WINDOW_MS ? 0 : null; // stuck, or just started
    const span = now - this.decodedAt[0];
    return Math.round((10_000 * (this.decodedAt.length - 1)) / span) / 10;
  }

  /**
   * Notes every new video frame for as long as `stream` plays, and decodes it when the worker is free.
   * A frame that arrives while the worker is busy is taken as soon as it answers, so a code waits for
   * the decoder, never for yet another camera frame.
   */
  watchFrames(stream) {
    if (this.stream !== stream) return;
    const next = () => {
      this.frameWaiting = true;
      this.decodeWhenFree();
      this.watchFrames(stream);
    };
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(next);
    else requestAnimationFrame(next);
  }

  /** Decode the newest frame if one is waiting, the worker is free and MIN_INTERVAL_MS has passed. */
  decodeWhenFree() {
    if (!this.stream || this.busy || !this.frameWaiting || this.timer !== null) return;
    const wait = this.lastTaken + MIN_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.decodeWhenFree();
      }, wait);
      return;
    }
    if (this.video.readyState < 2 || !this.video.videoWidth) return;
    const stream = this.stream;
    this.busy = true;
    this.frameWaiting = false;
    this.lastTaken = performance.now();
    this.decoder
      .decode(this.video)
      .then((answer) => {
        if (this.stream !== stream) return;
        const now = performance.now();
        if (answer !== NOTHING) this.decodedAt.push(now); // a worker that failed to load decodes nothing
        this.setHint(this.hints.update(answer, now));
        if (answer.text) this.onCode(answer.text);
      })
      .catch(() => {})
      .finally(() => {
        this.busy = false;
        this.decodeWhenFree();
      });
  }

  setHint(hint) {
    if (hint === this.hint) return;
    this.hint = hint;
    this.onHint(hint);
  }

  get canSwitch() {
    return this.devices.length > 1;
  }

  /** The next camera (front/back on a tablet); remembered for the next start. */
  async switchCamera() {
    const current = this.track?.getSettings().deviceId;
    const index = this.devices.findIndex((device) => device.deviceId === current);
    const next = this.devices[(index + 1) % this.devices.length];
    localStorage.setItem("kiosk.camera", next.deviceId);
    await this.start(next.deviceId);
  }

  get canTorch() {
    return Boolean(this.track?.getCapabilities?.().torch);
  }

  async toggleTorch() {
    this.torchOn = !this.torchOn;
    await this.track.applyConstraints({ advanced: [{ torch: this.torchOn }] });
  }
}
