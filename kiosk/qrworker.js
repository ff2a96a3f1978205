// Decodes QR codes in camera frames off the main thread with ZXing-C++ compiled to WebAssembly (a
// module worker). Its .wasm comes from our own server (static/vendor, kept by the service worker for
// offline use), never from the library's default CDN.
//
// In: {id, width, height, buffer} (RGBA pixels). Out: {id, text, seen, ms}: `text` is the first
// code read, or null; `seen` is, when no code was read but a QR symbol was found in the frame, its
// width as a share of the frame's shorter side (the kiosk uses it to tell people what to do).

import { prepareZXingModule, readBarcodes } from "/static/vendor/zxing-wasm/reader/index.js";

const WASM = new URL("/static/vendor/zxing-wasm/zxing_reader.wasm", self.location.origin).href;

prepareZXingModule({
  overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path) },
  fireImmediately: true,
});

const OPTIONS = {
  formats: ["QRCode"],
  tryHarder: true,
  tryRotate: true,
  tryInvert: false, // tickets are dark on light; the inverted pass would cost time on every frame
  tryDownscale: true,
  tryDenoise: true, // a closing filter: reads 2 more of the 42 corpus frames for ~1 ms
  maxNumberOfSymbols: 1,
  returnErrors: true, // symbols found but not decodable come back with isValid false
};

/** The symbol's width as a share of the frame's shorter side, from its four corners. */
function share({ topLeft, topRight, bottomLeft }, width, height) {
  const side = Math.max(Math.hypot(topRight.x - topLeft.x, topRight.y - topLeft.y),
    Math.hypot(bottomLeft.x - topLeft.x, bottomLeft.y - topLeft.y));
  return Math.round((100 * side) / Math.min(width, height)) / 100;
}

self.onmessage = async (event) => {
  const { id, width, height, buffer } = event.data;
  const started = performance.now();
  let text = null;
  let seen = null;
  try {
    const results = await readBarcodes({ data: new Uint8ClampedArray(buffer), width, height }, OPTIONS);
    const read = results.find((result) => result.isValid && result.text);
    if (read) text = read.text;
    else if (results.length) seen = share(results[0].position, width, height);
  } catch (error) {
    console.error(error);
  }
  self.postMessage({ id, text, seen, ms: performance.now() - started });
};
