// What happens to a scan: sent to the server when it answers within ~2 s; otherwise decided on
// the kiosk from the synced copy and kept in the queue (IndexedDB) until the server takes it.
// The queue is sent in order, before any new scan, so the server sees events as they happened;
// a scan's scan_id makes re-sending it harmless.

import { ANSWER_WITHIN_MS, Offline, Refused, uuid } from "./api.js";
import { decideLocally, hallWarnings } from "./decide.js";
import { sha256Hex } from "./sha256.js";

const DRAIN_TIMEOUT_MS = 5000;

const RESULT_ERRORS = new Set(["venue_full", "not_checked_in"]);

/** The answer shown when the server refused a request (4xx): its error code when that is a result. */
function refusal(error) {
  const code = error.body?.error;
  return { result: RESULT_ERRORS.has(code) ? code : "error", error: code, fields: error.body?.fields };
}

export class Door {
  /** api: Api; local: LocalData; slug: the event; onChange(): the queue, counts or online state changed. */
  constructor(api, local, slug, onChange) {
    this.api = api;
    this.local = local;
    this.slug = slug;
    this.onChange = onChange;
    this.online = navigator.onLine;
    this.draining = null;
    this.counts = local.meta.counts ?? { in_hall: null, checked_in: null };
    this.lastScanAt = null;
  }

  setOnline(online) {
    if (this.online !== online) {
      this.online = online;
      this.onChange();
    }
  }

  /** One scan: a code (normalised) or a registrant id, in a direction, by a method; `admit` lets a
   * waitlisted person in (staff chose 「入場を許可」). Every call is a new scan_id. */
  async scan({ code, registrantId, direction, method, admit = false }) {
    const body = { scan_id: uuid(), direction, method };
    if (code !== undefined) body.code = code;
    else body.registrant_id = registrantId;
    if (admit) body.admit = true;
    const hash = code === undefined ? undefined : await sha256Hex(code);
    return this.send("scan", "POST", `/api/v1/events/${this.slug}/scans`, body, () =>
      decideLocally({ code, hash, registrantId, direction, admit }, this.local, this.slug, this.hall()),
    );
  }

  /** Register a walk-in and check them in at once. */
  async walkin(fields) {
    const body = { ...fields, scan_id: uuid() };
    return this.send("walkin", "POST", `/api/v1/events/${this.slug}/walkins`, body, () => {
      const hall = this.hall();
      if (hall.room <= 0) return { result: "venue_full", keep: false, ...hall.figures };
      const registrant = { name: fields.name, kana: fields.kana, organisation: fields.organisation };
      return { result: "ok", registrant, warnings: ["walkin", ...hallWarnings(hall.room)] };
    });
  }

  /** Undo a mistaken check-in. */
  async undo(registrant) {
    const path = `/api/v1/events/${this.slug}/checkins/${registrant.id}`;
    const answer = await this.send("undo", "DELETE", path, undefined, () => ({ result: "undone", registrant }));
    if (answer.error) return answer;
    if (!answer.offline) await this.local.saveRegistrant({ id: registrant.id, checked_in_at: null });
    return { ...answer, result: "undone", registrant };
  }

  async send(kind, method, path, body, decideOffline) {
    const scannedAt = new Date().toISOString();
    this.lastScanAt = scannedAt;
    if (this.online && this.local.queue.length) {
      // Earlier scans go first; if they take too long, this one joins them in the queue.
      await Promise.race([this.drain(), new Promise((resolve) => setTimeout(resolve, ANSWER_WITHIN_MS))]);
    }
    if (this.online && !this.local.queue.length) {
      try {
        const answer = await this.api.call(method, path, body);
        this.setOnline(true);
        await this.remember(kind, answer, body?.registrant_id);
        return answer ?? {};
      } catch (error) {
        if (error instanceof Refused) return refusal(error);
        if (!(error instanceof Offline)) throw error;
        this.setOnline(false);
      }
    }
    const decision = decideOffline();
    if (decision.keep !== false) {
      const queued = body && { ...body, scanned_at: scannedAt, offline_decision: decision.result };
      const registrantId = decision.registrant?.id;
      const item = { kind, method, path, body: queued, decision: decision.result, registrantId, scannedAt };
      await this.local.enqueue(item);
      this.countLocally(decision.result);
    }
    this.onChange();
    return { ...decision, scan_id: body?.scan_id, offline: true };
  }

  /** The hall capacity in force: from the last answer or sync (the registration capacity when unset). */
  hallCapacity() {
    const event = this.local.meta.event;
    return this.counts.hall_capacity ?? event?.hall_capacity ?? event?.capacity ?? null;
  }

  /** Places free in the hall by the last known count (Infinity when unknown), with the figures shown. */
  hall() {
    const capacity = this.hallCapacity();
    const known = this.counts.in_hall !== null && capacity !== null;
    const figures = known ? { in_hall: this.counts.in_hall, hall_capacity: capacity } : {};
    return { room: known ? capacity - this.counts.in_hall : Infinity, figures };
  }

  /** Keep the in-hall count moving while offline; the server's next answer corrects it. */
  countLocally(result) {
    const step = { ok: 1, exited: -1, undone: -1 }[result] ?? 0;
    if (this.counts.in_hall !== null && step) this.counts = { ...this.counts, in_hall: this.counts.in_hall + step };
  }

  /** Keep what the server answered in the local copy, so offline decisions stay right. */
  async remember(kind, answer, registrantId) {
    if (answer?.in_hall !== undefined) await this.setCounts(answer);
    const registrant = answer?.registrant ?? { id: registrantId };
    if (!registrant.id) return;
    if (kind === "undo") {
      await this.local.saveRegistrant({ id: registrant.id, checked_in_at: null });
    } else if (answer.result === "ok" || answer.result === "already_checked_in") {
      const at = answer.first_checked_in_at ?? new Date().toISOString();
      const known = this.local.registrants.has(registrant.id);
      await this.local.saveRegistrant({ ...(known ? {} : { status: "registered" }), ...registrant, checked_in_at: at });
    }
  }

  /** The server's people counts ({in_hall, checked_in, hall_capacity}), from a scan answer or a sync. */
  async setCounts({ in_hall, checked_in, hall_capacity }) {
    this.counts = {
      in_hall,
      checked_in: checked_in ?? this.counts.checked_in,
      hall_capacity: hall_capacity ?? this.local.meta.event?.hall_capacity ?? this.counts.hall_capacity,
    };
    await this.local.setMeta({ counts: this.counts });
    this.onChange();
  }

  /** Send the queue in order; stops at the first scan the server does not take now. */
  drain() {
    this.draining ??= this.sendQueue().finally(() => {
      this.draining = null;
      this.onChange();
    });
    return this.draining;
  }

  async sendQueue() {
    for (const item of [...this.local.queue]) {
      try {
        const answer = await this.api.call(item.method, item.path, item.body, DRAIN_TIMEOUT_MS);
        await this.remember(item.kind, answer, item.registrantId);
      } catch (error) {
        if (error instanceof Offline) {
          this.setOnline(false);
          return;
        }
        // The server refused this one for good (a 4xx): keeping it would block the queue forever,
        // so it moves aside where the status bar counts it for the organisers.
        if (!(error instanceof Refused)) throw error;
        const refused = [...(this.local.meta.refused ?? []), { ...item, error: error.body?.error ?? error.status }];
        await this.local.setMeta({ refused });
      }
      await this.local.dequeue(item.seq);
      this.onChange();
    }
    this.setOnline(true);
  }
}
