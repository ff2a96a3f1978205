// The lookup rule of every catalogue of words, the same as checkin/i18n.py's `translate`: the message
// in the language asked, else in Japanese, else the key itself; each {name} slot filled from `values`
// (empty when it has none). The kiosk and the dashboard pages each hold their own catalogue.

export const LANGS = ["ja", "en"];
export const DEFAULT = "ja";

/** `translate(key, lang, values)` over one catalogue of {key: {ja, en}}. */
export function translator(catalogue) {
  return (key, lang, values = {}) => {
    const texts = Object.hasOwn(catalogue, key) ? catalogue[key] : null;
    const text = (texts && (texts[lang] || texts[DEFAULT])) || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  };
}
