// Continuous camera scanning: every new video frame goes to a decoder (the browser's
// BarcodeDetector where it has one, else jsQR in a worker), one frame at a time so that a slow
// tablet never builds a backlog. Also the front/back camera switch and the torch.

const MAX_SIDE = 640; // enough pixels for a version-3 code held up to the camera; jsQR time grows with area

class WorkerDecoder {
  constructor() {
    this.worker = new Worker(new URL("./qrworker.js", import.meta.url));
    this.canvas = document.createElement("canvas");
    this.context = this.canvas.getContext("2d", { willReadFrequently: true });
    this.nextId = 0;
    this.pending = new Map();
    this.worker.onmessage = (event) => {
      this.pending.get(event.data.id)?.(event.data.text);
      this.pending.delete(event.data.id);
    };
  }

  decode(video) {
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
      this.worker.postMessage({ id, width, height, buffer: data.buffer }, [data.buffer]);
    });
  }
}

class NativeDecoder {
  constructor() {
    this.detector = new BarcodeDetector({ formats: ["qr_code"] });
  }

  async decode(video) {
    const codes = await this.detector.detect(video);
    return codes.length ? codes[0].rawValue : null;
  }
}

async function makeDecoder() {
  if ("BarcodeDetector" in globalThis) {
    const formats = await BarcodeDetector.getSupportedFormats().catch(() => []);
    if (formats.includes("qr_code")) return new NativeDecoder();
  }
  return new WorkerDecoder();
}

export class Camera {
  /** video: the preview element; onCode(text): called with every decoded text. */
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.stream = null;
    this.decoder = null;
    this.busy = false;
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
    this.decoder ??= await makeDecoder();
    const all = await navigator.mediaDevices.enumerateDevices();
    this.devices = all.filter((device) => device.kind === "videoinput");
    this.scheduleFrame();
  }

  stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.torchOn = false;
  }

  get track() {
    return this.stream?.getVideoTracks()[0] ?? null;
  }

  scheduleFrame() {
    if (!this.stream) return;
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(() => this.onFrame());
    else requestAnimationFrame(() => this.onFrame());
  }

  onFrame() {
    const stream = this.stream;
    if (!stream) return;
    if (!this.busy && this.video.readyState >= 2 && this.video.videoWidth) {
      this.busy = true;
      this.decoder
        .decode(this.video)
        .then((text) => {
          if (text && this.stream === stream) this.onCode(text);
        })
        .catch(() => {})
        .finally(() => {
          this.busy = false;
        });
    }
    this.scheduleFrame();
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
