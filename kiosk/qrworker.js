// Decodes QR codes in camera frames off the main thread with jsQR (a classic worker: jsQR is UMD).
/* global jsQR */
importScripts("/static/vendor/jsqr/jsQR.js");

self.onmessage = (event) => {
  const { id, width, height, buffer } = event.data;
  const found = jsQR(new Uint8ClampedArray(buffer), width, height, { inversionAttempts: "attemptBoth" });
  self.postMessage({ id, text: found ? found.data : null });
};
