// Folding of search text and ticket codes, the same way as the server (checkin/text.py and
// checkin/tickets.py), so a search or a scan decided on the kiosk matches the server's answer.

import { sha256Bytes } from "./sha256.js";

const HIRAGANA_START = 0x3041;
const HIRAGANA_END = 0x3096;
const KATAKANA_OFFSET = 0x60;

/** Hiragana to katakana; everything else unchanged. */
export function toKatakana(text) {
  let out = "";
  for (const ch of text) {
    const point = ch.codePointAt(0);
    out += point >= HIRAGANA_START && point <= HIRAGANA_END ? String.fromCodePoint(point + KATAKANA_OFFSET) : ch;
  }
  return out;
}

/** A name, reading, e-mail or number folded for matching: NFKC, katakana, no spaces, lower case. */
export function searchKey(text) {
  return toKatakana(String(text ?? "").normalize("NFKC").trim())
    .replace(/[\s\u3000]+/gu, "")
    .toLowerCase()
    .normalize("NFC"); // a mark that followed a removed space joins the letter before it, as on the server
}

/** What a camera or a keyboard-wedge scanner read, tidied: NFKC, trimmed, upper case. */
export function normaliseCode(raw) {
  return String(raw).normalize("NFKC").trim().toUpperCase();
}

// Ticket codes read CK1-EEEE-<24 base32 letters><2 check letters> (see checkin/tickets.py).
const FORMAT = "CK1";
const TAG_CHARS = 4;
const BODY_CHARS = 24;
const CHECK_CHARS = 2;
const CODE_LENGTH = FORMAT.length + 1 + TAG_CHARS + 1 + BODY_CHARS + CHECK_CHARS;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** The first `count` letters of the base32 form of bytes. */
function base32Prefix(bytes, count) {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < count) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= count) break;
  }
  return out;
}

const utf8 = (text) => new TextEncoder().encode(text);

/** Four base32 letters naming the event inside its codes. */
export function eventTag(slug) {
  return base32Prefix(sha256Bytes(utf8(slug)), TAG_CHARS);
}

/** Whether a normalised code is a well-formed code of this event: "ok", "wrong_event" or "invalid". */
export function classifyCode(code, slug) {
  const parts = code.split("-");
  if (code.length !== CODE_LENGTH || parts.length !== 3 || parts[0] !== FORMAT) return "invalid";
  const [, tag, tail] = parts;
  if (tag.length !== TAG_CHARS || ![...tag + tail].every((ch) => BASE32.includes(ch))) return "invalid";
  const head = code.slice(0, -CHECK_CHARS);
  if (base32Prefix(sha256Bytes(utf8(head)), CHECK_CHARS) !== code.slice(-CHECK_CHARS)) return "invalid";
  return tag === eventTag(slug) ? "ok" : "wrong_event";
}
