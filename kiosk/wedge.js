// A handheld 2D scanner "types" the code like a keyboard, much faster than a person, then presses
// Enter. Keys that follow each other with a median gap under FAST_MS and end in Enter are a scan,
// wherever the focus is; if they landed in a text box, the box gets back what it held before.
// The median (not every gap) decides, because Bluetooth scanners, like busy computers, sometimes
// stall for a key or two. People type at 100 ms a key or slower, so their typing (and IME
// composition) is left alone. A pause of PAUSE_MS starts a new burst: a scan right after typing
// (within half a second) reads as one invalid text, and is simply scanned again.

const FAST_MS = 50;
const PAUSE_MS = 500;
const MIN_LENGTH = 4;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Call onScan(text) for every scanner burst; returns a function that stops listening. */
export function listenForScanner(onScan) {
  let keys = "";
  let gaps = [];
  let lastAt = -Infinity;
  let field = null;
  let fieldValue = "";

  const onKeyDown = (event) => {
    if (event.isComposing || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key !== "Enter" && event.key.length !== 1) return; // Shift and the like
    const now = event.timeStamp; // when the key arrived, even if the page was busy then
    const gap = now - lastAt;
    lastAt = now;
    if (event.key === "Enter") {
      if (keys.length >= MIN_LENGTH && gap < PAUSE_MS && median([...gaps, gap]) < FAST_MS) {
        event.preventDefault();
        event.stopPropagation();
        if (field) {
          field.value = fieldValue;
          field.dispatchEvent(new Event("input", { bubbles: true }));
        }
        onScan(keys);
      }
      keys = "";
      gaps = [];
    } else if (!keys || gap >= PAUSE_MS) {
      const target = event.target;
      field = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ? target : null;
      fieldValue = field ? field.value : "";
      keys = event.key;
      gaps = [];
    } else {
      keys += event.key;
      gaps.push(gap);
    }
  };

  window.addEventListener("keydown", onKeyDown, true);
  return () => window.removeEventListener("keydown", onKeyDown, true);
}
