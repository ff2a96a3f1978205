// Lets the kiosk page load without network: its files (and the QR decoder, ZXing-C++ WebAssembly)
// are kept in a cache and served from it when the server cannot be reached. Fresh files are fetched first whenever it can be.
// The API is never cached.

const CACHE = "kiosk-v3";
const SHELL = [
  "./",
  "kiosk.css",
  "app.js",
  "api.js",
  "camera.js",
  "decide.js",
  "door.js",
  "localdata.js",
  "messages.js",
  "pairing.js",
  "panels.js",
  "qrworker.js",
  "screen.js",
  "sha256.js",
  "sound.js",
  "text.js",
  "wedge.js",
  "/static/common/i18n.js",
  "/static/vendor/zxing-wasm/reader/index.js",
  "/static/vendor/zxing-wasm/share.js",
  "/static/vendor/zxing-wasm/zxing_reader.wasm",
];
const NETWORK_WAIT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

const CACHED_PATHS = ["/kiosk/", "/static/common/", "/static/vendor/zxing-wasm/"];

function cached(url) {
  return url.origin === self.location.origin && CACHED_PATHS.some((path) => url.pathname.startsWith(path));
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request, { cache: "no-cache" }),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow network")), NETWORK_WAIT_MS)),
    ]);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(request, { ignoreSearch: true });
    if (hit) return hit;
    if (request.mode === "navigate") return (await cache.match("./")) ?? Response.error();
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !cached(url)) return;
  event.respondWith(networkFirst(event.request));
});
