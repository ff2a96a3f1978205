// The answer a scan gets when the server cannot give one in time: decided from the synced copy,
// with the same result codes and door policy as the server (checkin/scans.py). An unknown hash is
// "not_in_local_data" rather than "invalid": the ticket may simply be newer than the last sync.

import { classifyCode } from "./text.js";

/** The registrant fields a scan answer carries. */
function shown(record) {
  const { id, ref_no, name, kana, organisation, mode } = record;
  return { id, ref_no, name, kana, organisation, mode };
}

/** After one more person goes in: `hall_full` once the hall is at capacity, `over_capacity` past it. */
export function hallWarnings(room) {
  if (room > 1) return [];
  return room === 1 ? ["hall_full"] : ["hall_full", "over_capacity"];
}

function decideForRegistrant(record, { direction, admit }, local, hall) {
  const registrant = shown(record);
  if (record.status === "cancelled") return { result: "revoked", registrant };
  const firstAt = local.checkedInAt(record.id);
  if (direction === "out") {
    return firstAt ? { result: "exited", registrant } : { result: "not_checked_in", registrant };
  }
  if (firstAt) return { result: "already_checked_in", registrant, first_checked_in_at: firstAt };
  const waitlisted = record.status === "waitlisted";
  // On the waiting list: staff decide (「入場を許可」 sends the scan again with admit).
  if (waitlisted && !admit) return { result: "waitlisted", registrant, ...hall.figures };
  // A registered venue registrant holds a seat; anyone else needs room in the hall.
  const holdsSeat = record.mode === "venue" && record.status === "registered";
  if (!holdsSeat && hall.room <= 0) return { result: "venue_full", registrant, ...hall.figures };
  const warnings = [
    ...(record.mode === "online" ? ["registered_online"] : []),
    ...(waitlisted ? ["waitlisted"] : []),
    ...hallWarnings(hall.room),
  ];
  return { result: "ok", registrant, warnings };
}

/**
 * A local answer for a scanned code (normalised, with its SHA-256 hex) or a registrant id.
 * `local` is a LocalData; `slug` the kiosk's event; `hall` the places free in the hall by the local
 * count ({room, figures}).
 */
export function decideLocally({ code, hash, registrantId, direction, admit = false }, local, slug, hall) {
  let record;
  if (registrantId !== undefined) {
    record = local.registrants.get(registrantId);
    if (!record) return { result: "not_in_local_data" };
  } else {
    const problem = classifyCode(code, slug);
    if (problem !== "ok") return { result: problem };
    const entry = local.entries.get(hash);
    if (!entry) return { result: "not_in_local_data" };
    record = local.registrants.get(entry.registrant_id);
    if (entry.status === "revoked") return { result: "revoked", registrant: record && shown(record) };
    if (!record) return { result: "not_in_local_data" };
  }
  return decideForRegistrant(record, { direction, admit }, local, hall);
}
