// The reception kiosk: pairing, then scanning (camera and handheld scanner), search, walk-ins,
// exit mode, and the offline copy with its queue, kept in step with the server by three loops.

import { Api, Offline, Unauthorized } from "./api.js";
import { Camera } from "./camera.js";
import { Door } from "./door.js";
import { LocalData } from "./localdata.js";
import { clock, language, setLanguage, t, translatePage } from "./messages.js";
import { askForPairing, forgetRevokedToken, keepToken, storedToken, takeFragment, wasRevoked } from "./pairing.js";
import { SearchPanel, WalkinPanel } from "./panels.js";
import { ResultScreen } from "./screen.js";
import { unlockAudio } from "./sound.js";
import { normaliseCode } from "./text.js";
import { listenForScanner } from "./wedge.js";

const SYNC_EVERY_MS = 30_000;
const HEARTBEAT_EVERY_MS = 15_000;
const RETRY_EVERY_MS = 5_000;
const SAME_CODE_IGNORED_MS = 3_000;
const UNDO_OFFERED_MS = 10_000;
const IDENTITY_KEY = "kiosk.identity";

const $ = (selector) => document.querySelector(selector);

class Kiosk {
  constructor(api, identity, local) {
    this.api = api;
    this.identity = identity;
    this.local = local;
    this.direction = localStorage.getItem("kiosk.direction") === "out" ? "out" : "in";
    this.door = new Door(api, local, identity.event, () => this.render());
    this.results = new ResultScreen(
      $("#result"),
      (registrant) => this.undo(registrant),
      (answer) => this.offerUndo(answer),
      (scan) => this.submit({ ...scan, admit: true }),
    );
    this.search = new SearchPanel($("#search"), this.door, (registrant) => {
      this.search.close();
      this.submit({ registrantId: registrant.id, method: "search" });
    });
    this.walkin = new WalkinPanel($("#walkin"), (fields) => this.registerWalkin(fields));
    this.camera = new Camera(
      $("video"),
      (text) => this.onCode(text, "camera"),
      () => this.render(), // a code in view but unread for a while: the prompt says what to do
    );
    this.chain = Promise.resolve();
    this.recentCodes = new Map(); // code → when last seen
    this.timers = [];
    this.undoTimer = null;
  }

  start() {
    $("#kiosk").hidden = false;
    this.wire();
    this.render();
    this.startCamera();
    this.stopScanner = listenForScanner((text) => this.onCode(text, "wedge"));
    this.sync();
    this.heartbeat();
    this.timers.push(setInterval(() => this.sync(), SYNC_EVERY_MS));
    this.timers.push(setInterval(() => this.heartbeat(), HEARTBEAT_EVERY_MS));
    this.timers.push(setInterval(() => this.retry(), RETRY_EVERY_MS));
    this.onNetwork = (event) => (event.type === "online" ? this.retry(true) : this.door.setOnline(false));
    window.addEventListener("online", this.onNetwork);
    window.addEventListener("offline", this.onNetwork);
  }

  stop() {
    this.timers.forEach(clearInterval);
    window.removeEventListener("online", this.onNetwork);
    window.removeEventListener("offline", this.onNetwork);
    this.stopScanner?.();
    this.camera.stop();
    this.results.hide(false);
    this.search.close();
    this.walkin.close();
    $("#kiosk").hidden = true;
  }

  wire() {
    $("[data-toggle-direction]").onclick = () => this.toggleDirection();
    $("[data-lang]").onclick = () => {
      setLanguage(language() === "ja" ? "en" : "ja");
      translatePage();
      this.render();
    };
    $("[data-open-search]").onclick = () => this.search.open(this.direction);
    $("[data-open-walkin]").onclick = () => this.walkin.open();
    $("#search [data-close]").onclick = () => this.search.close();
    $("#walkin [data-close]").onclick = () => this.walkin.close();
    $("[data-switch]").onclick = () => this.camera.switchCamera().then(() => this.render());
    $("[data-torch]").onclick = () => this.camera.toggleTorch().catch(() => {});
    $("[data-undo-last]").onclick = (event) => {
      this.hideUndoOffer();
      this.undo(event.currentTarget.registrant);
    };
  }

  async startCamera() {
    try {
      await this.camera.start();
      $("[data-camera-error]").hidden = true;
    } catch {
      $("[data-camera-error]").hidden = false;
    }
    this.render();
  }

  /** To exit mode only after staff confirm (a mistaken switch turns arrivals into exits); back at once. */
  toggleDirection() {
    if (this.direction === "out") return this.setDirection("in");
    const dialog = $("#exit-confirm");
    dialog.returnValue = "";
    dialog.onclose = () => dialog.returnValue === "yes" && this.setDirection("out");
    dialog.showModal();
  }

  setDirection(direction) {
    this.direction = direction;
    this.recentCodes.clear(); // the same ticket may now be scanned the other way
    localStorage.setItem("kiosk.direction", direction);
    this.render();
    this.heartbeat();
  }

  /**
   * A code from the camera or the scanner. A code seen again within a few seconds of its last
   * sighting is ignored: a ticket held up for a while, a scanner sending twice, or two phones in
   * view that the camera reads by turns each give one result.
   */
  onCode(text, method) {
    const code = normaliseCode(text);
    if (!code) return;
    const now = performance.now();
    for (const [seen, at] of this.recentCodes) if (now - at >= SAME_CODE_IGNORED_MS) this.recentCodes.delete(seen);
    const repeat = this.recentCodes.has(code);
    this.recentCodes.set(code, now);
    if (!repeat) this.submit({ code, method });
  }

  /** Scans run one after another, so that results show, and reach the server, in order. */
  submit(scan) {
    this.chain = this.chain
      .then(() => this.door.scan({ ...scan, direction: this.direction }))
      .then((answer) => this.show(answer, scan))
      .catch((error) => this.fail(error));
    return this.chain;
  }

  show(answer, scan = null) {
    this.hideUndoOffer();
    const undoable = answer.result === "ok" && Boolean(answer.registrant?.id) && this.direction === "in";
    this.results.show(answer, undoable, scan);
    this.render();
  }

  fail(error) {
    if (error instanceof Unauthorized) return;
    console.error(error);
    this.show({ result: "error" });
  }

  undo(registrant) {
    this.chain = this.chain
      .then(() => this.door.undo(registrant))
      .then((answer) => this.show(answer))
      .catch((error) => this.fail(error));
  }

  /** After an ok result hides, its undo stays offered for a while on the scanning screen. */
  offerUndo(answer) {
    if (answer.result !== "ok" || !answer.registrant?.id || this.direction !== "in") return;
    const button = $("[data-undo-last]");
    button.registrant = answer.registrant;
    button.textContent = t("undo.last", { name: answer.registrant.name });
    button.hidden = false;
    clearTimeout(this.undoTimer);
    this.undoTimer = setTimeout(() => this.hideUndoOffer(), UNDO_OFFERED_MS);
  }

  hideUndoOffer() {
    clearTimeout(this.undoTimer);
    $("[data-undo-last]").hidden = true;
  }

  async registerWalkin(fields) {
    let answer;
    try {
      answer = await this.door.walkin(fields);
    } catch (error) {
      this.fail(error);
      return "";
    }
    if (answer.result === "error") return refusedWalkin(answer);
    this.show(answer);
    return answer.result === "ok" ? true : "";
  }

  async sync() {
    const since = this.local.meta.cursor;
    const query = since ? `?since=${encodeURIComponent(since)}` : "";
    try {
      const data = await this.api.get(`/api/v1/events/${this.identity.event}/kiosk/sync${query}`, 15_000);
      await this.local.applySync(data);
      if (data.counts) await this.door.setCounts(data.counts);
      this.door.setOnline(true);
    } catch (error) {
      if (error instanceof Offline) this.door.setOnline(false);
    }
    this.render();
  }

  async heartbeat() {
    const body = {
      queue_length: this.local.queue.length,
      last_scan_at: this.door.lastScanAt,
      direction: this.direction,
      online: this.door.online,
    };
    const fps = this.camera.decodeFps;
    if (fps !== null) body.decode_fps = fps;
    try {
      await this.api.post(`/api/v1/events/${this.identity.event}/kiosk/heartbeat`, body);
      this.door.setOnline(true);
    } catch (error) {
      if (error instanceof Offline) this.door.setOnline(false);
    }
  }

  /** While offline or with scans waiting, try the server every few seconds. */
  async retry(force = false) {
    if (this.local.queue.length) await this.door.drain().catch(() => {});
    else if (force || !this.door.online) await this.heartbeat();
  }

  render() {
    document.body.dataset.direction = this.direction;
    const event = this.local.meta.event ?? {};
    $("[data-event-title]").textContent = event.title ?? this.identity.event;
    $("[data-kiosk-name]").textContent = this.identity.name;
    const counts = this.door.counts;
    $("[data-hall]").textContent = t("hall.count", {
      in_hall: counts.in_hall ?? "—",
      capacity: this.door.hallCapacity() ?? "—",
    });
    $("[data-open-walkin]").hidden = this.direction === "out"; // a walk-in is an arrival
    $("[data-direction-label]").textContent = t(`direction.${this.direction}`);
    const other = this.direction === "in" ? "out" : "in";
    $("[data-toggle-direction]").textContent = t(`direction.switch_to_${other}`);
    const hint = this.camera.hint;
    $("[data-prompt]").textContent = t(hint ? `camera.hint.${hint}` : this.direction === "in" ? "idle" : "idle.exit");
    $("[data-prompt]").dataset.hint = hint ?? "";
    $("[data-offline]").hidden = this.door.online;
    const waiting = this.local.queue.length;
    for (const node of document.querySelectorAll("[data-queue]")) {
      node.textContent = waiting ? t("queue.waiting", { count: waiting }) : "";
    }
    const refused = this.local.meta.refused?.length ?? 0;
    $("[data-refused]").textContent = refused ? t("refused.count", { count: refused }) : "";
    const syncedAt = this.local.meta.syncedAt;
    if (syncedAt) $("[data-sync]").dataset.entries = this.local.entries.size;
    $("[data-sync]").textContent = syncedAt
      ? t("sync.state", { time: clock(syncedAt, true), count: this.local.entries.size })
      : t("sync.never");
    $("[data-switch]").hidden = !this.camera.canSwitch;
    $("[data-torch]").hidden = !this.camera.canTorch;
  }
}

/** What to tell staff when the server refused a walk-in: the first bad field, or why. */
function refusedWalkin(answer) {
  if (answer.error === "duplicate_email") return t("walkin.duplicate_email");
  const [field, problem] = Object.entries(answer.fields ?? {})[0] ?? [];
  if (field === "kana" && problem === "not_kana") return t("walkin.not_kana");
  if (field === "email") return t("walkin.bad_email");
  return t("walkin.check");
}

/** Who the token belongs to ({name, event}); from the server, or as remembered when it is away. */
async function identify(api) {
  try {
    const me = await api.get("/api/v1/me");
    const identity = { name: me.name, event: me.event };
    localStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
    return identity;
  } catch (error) {
    const remembered = JSON.parse(localStorage.getItem(IDENTITY_KEY) ?? "null");
    if (error instanceof Offline && remembered) return remembered;
    throw error;
  }
}

/** Run the kiosk with a token; back to pairing when the token is refused. */
async function run(token) {
  let kiosk = null;
  let local = null;
  const api = new Api(token, async () => {
    // Revoked: stop at once, forget the token and the personal data (not the unsent scans), and
    // start afresh on the pairing screen, which says why.
    kiosk?.stop();
    forgetRevokedToken();
    localStorage.removeItem(IDENTITY_KEY);
    await local?.forgetCopy();
    location.reload();
  });
  let identity;
  try {
    identity = await identify(api);
  } catch (error) {
    if (error instanceof Offline) waitForServer(token);
    else if (!(error instanceof Unauthorized)) run(await askForPairing($("#pairing"), t("pair.failed")));
    return;
  }
  $("#waiting").hidden = true;
  local = await LocalData.open();
  if (local.meta.slug !== identity.event) {
    await local.forgetCopy();
    await local.setMeta({ slug: identity.event });
  }
  kiosk = new Kiosk(api, identity, local);
  kiosk.start();
}

/** A token but never an answer from the server yet: say so, and try again every few seconds. */
function waitForServer(token) {
  $("#waiting").hidden = false;
  setTimeout(() => run(token), RETRY_EVERY_MS);
}

/** Why the kiosk is asking to be paired again (it was revoked), with the scans still to send. */
async function pairingNotice() {
  if (!wasRevoked()) return "";
  const pending = (await LocalData.open()).queue.length;
  return [t("pair.revoked"), pending ? t("pair.pending", { count: pending }) : ""].join(" ").trim();
}

async function main() {
  setLanguage(language());
  translatePage();
  for (const button of document.querySelectorAll("[data-pair-lang]")) {
    button.onclick = () => {
      setLanguage(language() === "ja" ? "en" : "ja");
      translatePage();
    };
  }
  for (const name of ["pointerdown", "keydown"]) window.addEventListener(name, unlockAudio, { passive: true });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
  const fragment = takeFragment();
  if (fragment.token) keepToken(fragment.token);
  const token = fragment.token ?? (fragment.pairingCode ? null : storedToken());
  run(token ?? (await askForPairing($("#pairing"), await pairingNotice(), fragment.pairingCode)));
}

main();
