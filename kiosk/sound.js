// Short beeps made with WebAudio (no sound files to load): a rising pair for a check-in, a low
// buzz for a refusal, so staff can hear the result without looking.

const TONES = {
  ok: [{ frequency: 880, ms: 90 }, { frequency: 1320, ms: 140 }],
  exit: [{ frequency: 1320, ms: 90 }, { frequency: 880, ms: 140 }],
  warn: [{ frequency: 660, ms: 120 }, { frequency: 660, ms: 120 }],
  bad: [{ frequency: 220, ms: 380, wave: "square" }],
};

let context = null;

/** Browsers start audio only after a user gesture: call this from one (a tap, a key). */
export function unlockAudio() {
  context ??= globalThis.AudioContext ? new AudioContext() : null;
  if (context?.state === "suspended") context.resume().catch(() => {});
}

/** Play the sound of a result tone: "ok", "exit", "warn" or "bad". */
export function beep(tone) {
  if (!context || context.state !== "running") return;
  let at = context.currentTime;
  for (const { frequency, ms, wave = "sine" } of TONES[tone] ?? TONES.bad) {
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = wave;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.25, at);
    gain.gain.exponentialRampToValueAtTime(0.001, at + ms / 1000);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + ms / 1000);
    at += ms / 1000 + 0.03;
  }
}
