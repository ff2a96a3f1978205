// The kiosk's own copy of the event, kept in IndexedDB so that it survives reloads and lets the
// door work without the server: hashes of valid codes (never the codes), the registrants' names
// and statuses, and the queue of scans waiting to be sent. Everything is also held in memory:
// a few thousand small records, looked up on every scan.

import { searchKey } from "./text.js";

const DB_NAME = "checkin-kiosk";
const STORES = ["entries", "registrants", "queue", "meta"];

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

function openDatabase() {
  const request = indexedDB.open(DB_NAME, 1);
  request.onupgradeneeded = () => {
    const db = request.result;
    db.createObjectStore("entries", { keyPath: "hash" });
    db.createObjectStore("registrants", { keyPath: "id" });
    db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
    db.createObjectStore("meta");
  };
  return done(request);
}

/** A registrant as kept locally, with its folded search text. */
function localRegistrant(record) {
  const folded = [record.name, record.kana, record.ref_no, record.email].map(searchKey).join("\u0000");
  return { ...record, folded };
}

export class LocalData {
  constructor(db) {
    this.db = db;
    this.entries = new Map();
    this.registrants = new Map();
    this.queue = [];
    this.meta = {};
  }

  static async open() {
    const local = new LocalData(await openDatabase());
    await local.load();
    return local;
  }

  async load() {
    const tx = this.db.transaction(STORES, "readonly");
    const [entries, registrants, queue, keys, values] = await Promise.all([
      done(tx.objectStore("entries").getAll()),
      done(tx.objectStore("registrants").getAll()),
      done(tx.objectStore("queue").getAll()),
      done(tx.objectStore("meta").getAllKeys()),
      done(tx.objectStore("meta").getAll()),
    ]);
    this.entries = new Map(entries.map((entry) => [entry.hash, entry]));
    this.registrants = new Map(registrants.map((record) => [record.id, record]));
    this.queue = queue;
    this.meta = Object.fromEntries(keys.map((key, i) => [key, values[i]]));
  }

  async setMeta(values) {
    Object.assign(this.meta, values);
    const tx = this.db.transaction("meta", "readwrite");
    for (const [key, value] of Object.entries(values)) tx.objectStore("meta").put(value, key);
    await committed(tx);
  }

  /** Forget the synced copy (another event, or a revoked kiosk); the unsent queue is kept. */
  async forgetCopy() {
    const tx = this.db.transaction(["entries", "registrants", "meta"], "readwrite");
    for (const name of ["entries", "registrants", "meta"]) tx.objectStore(name).clear();
    await committed(tx);
    this.entries.clear();
    this.registrants.clear();
    this.meta = {};
  }

  /** Merge one answer of the sync endpoint (a full copy replaces everything). */
  async applySync(data) {
    const tx = this.db.transaction(["entries", "registrants", "meta"], "readwrite");
    if (data.full) {
      tx.objectStore("entries").clear();
      tx.objectStore("registrants").clear();
      this.entries.clear();
      this.registrants.clear();
    }
    const putRegistrant = (record) => {
      const merged = localRegistrant({ ...this.registrants.get(record.id), ...record });
      this.registrants.set(record.id, merged);
      tx.objectStore("registrants").put(merged);
    };
    for (const entry of data.entries ?? []) {
      const stored = { hash: entry.hash, status: entry.status, registrant_id: entry.registrant?.id ?? null };
      this.entries.set(stored.hash, stored);
      tx.objectStore("entries").put(stored);
      if (entry.registrant) putRegistrant({ ...entry.registrant, checked_in_at: entry.checked_in_at ?? null });
    }
    for (const record of data.registrants ?? []) putRegistrant(record);
    const meta = { cursor: data.cursor, syncedAt: new Date().toISOString(), event: data.event };
    Object.assign(this.meta, meta);
    for (const [key, value] of Object.entries(meta)) tx.objectStore("meta").put(value, key);
    await committed(tx);
  }

  /** Record what the server said of a registrant (checked in, undone, a new walk-in). */
  async saveRegistrant(record) {
    const merged = localRegistrant({ ...this.registrants.get(record.id), ...record });
    this.registrants.set(record.id, merged);
    const tx = this.db.transaction("registrants", "readwrite");
    tx.objectStore("registrants").put(merged);
    await committed(tx);
  }

  /** When a registrant's entry check-in stands: the server's copy, then the queue in order. */
  checkedInAt(id) {
    let at = this.registrants.get(id)?.checked_in_at ?? null;
    for (const item of this.queue) {
      if (item.registrantId !== id) continue;
      if (item.kind === "undo") at = null;
      else if (item.decision === "ok") at = at ?? item.scannedAt;
    }
    return at;
  }

  /** Up to `limit` registrants whose name, reading, number or e-mail contains the folded query. */
  search(query, limit = 50) {
    const key = searchKey(query);
    if (!key) return [];
    const found = [];
    for (const record of this.registrants.values()) {
      if (record.folded.includes(key)) found.push(record);
      if (found.length >= limit) break;
    }
    return found.sort((a, b) => String(a.kana).localeCompare(String(b.kana), "ja"));
  }

  async enqueue(item) {
    const tx = this.db.transaction("queue", "readwrite");
    const seq = await done(tx.objectStore("queue").add(item));
    await committed(tx);
    const stored = { ...item, seq };
    this.queue.push(stored);
    return stored;
  }

  async dequeue(seq) {
    const tx = this.db.transaction("queue", "readwrite");
    tx.objectStore("queue").delete(seq);
    await committed(tx);
    this.queue = this.queue.filter((item) => item.seq !== seq);
  }
}
