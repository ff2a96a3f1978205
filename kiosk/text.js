// Folding of search text and ticket codes, the same way as the server (checkin/text.py and
// checkin/tickets.py), so a search or a scan decided on the kiosk matches the server's answer.

import { sha256Bytes } from "./sha256.js";

// ぁ…ゖ and the iteration marks ゝゞ, each 0x60 below its katakana.
const HIRAGANA = /[\u3041-\u3096\u309d\u309e]/gu;
const KATAKANA_OFFSET = 0x60;
// White space as Python has it (`\s`, str.strip()): not U+FEFF, which JavaScript counts.
const SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const TRIMMED = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "gu");
// What the server drops from a search key: white space and control characters.
const DROPPED = new RegExp(`[${SPACE}\\x00-\\x1f\\x7f-\\x9f]+`, "gu");
// Where Python's str.casefold() differs from lower case, of what NFKC leaves (besides the ranges below):
// ß, ẞ, final sigma, the iota subscript, and the old Cyrillic letter shapes U+1C80–1C88.
const FOLDED = new Map([
  ["ß", "ss"],
  ["ẞ", "ss"],
  ["ς", "σ"],
  ["\u0345", "ι"],
  ...Array.from("вдосттъѣꙋ", (folded, i) => [String.fromCodePoint(0x1c80 + i), folded]),
]);
const CHEROKEE = { capitals: [0x13a0, 0x13f5], small: [0xab70, 0xabbf], lateSmall: [0x13f8, 0x13fd] };

/** Hiragana to katakana; everything else unchanged. */
export function toKatakana(text) {
  return text.replace(HIRAGANA, (ch) => String.fromCodePoint(ch.codePointAt(0) + KATAKANA_OFFSET));
}

const within = (point, [low, high]) => point >= low && point <= high;

/** One character as Python's str.casefold() has it. */
function foldCharacter(ch) {
  if (FOLDED.has(ch)) return FOLDED.get(ch);
  const point = ch.codePointAt(0);
  // Cherokee folds to its capitals, where lower case goes the other way.
  if (within(point, CHEROKEE.capitals)) return ch;
  if (within(point, CHEROKEE.lateSmall)) return String.fromCodePoint(point - 8);
  if (within(point, CHEROKEE.small)) return String.fromCodePoint(point - CHEROKEE.small[0] + CHEROKEE.capitals[0]);
  const parts = ch.normalize("NFD");
  // A Greek vowel with iota subscript (ᾳ) folds to the vowel and a full iota (αι).
  if (parts.includes("\u0345")) return `${parts.replace("\u0345", "").toLowerCase()}ι`;
  return ch.toLowerCase(); // one character at a time: case folding has no final sigma
}

/** Case-folded as Python's str.casefold(). */
function caseFold(text) {
  return Array.from(text, foldCharacter).join("");
}

/** A name, reading, e-mail or number folded for matching, as checkin/text.py's search_key: NFKC, katakana,
 * no spaces or controls, case-folded, and composed again (a mark that followed a removed space joins the
 * letter before it). */
export function searchKey(text) {
  return caseFold(toKatakana(String(text ?? "").normalize("NFKC")).replace(DROPPED, "")).normalize("NFC");
}

/** What a camera or a keyboard-wedge scanner read, tidied as checkin/tickets.py's normalise: NFKC, trimmed,
 * upper case. */
export function normaliseCode(raw) {
  return String(raw).normalize("NFKC").replace(TRIMMED, "").toUpperCase();
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
